"""predict --dataset keeps the model's guess for each image; the grid's query filters and sorts by it."""

from __future__ import annotations

import pytest

from core.cli.main import main
from core.errors import GeoSpottrError


def test_predict_the_dataset_then_filter_right_wrong_guessed_city_and_sort_by_confidence(tiny_project, random_bundle,
                                                                                          capsys):
    root = str(tiny_project.root)
    assert main(["--project", root, "predict", "--dataset", "--model", str(random_bundle), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    stored = tiny_project.predictions()
    kept = tiny_project.image_ids(status=["pending", "accepted"])
    assert set(stored) == set(kept) and f"predicted {len(kept)} images" in out
    right = tiny_project.image_ids(model="right")
    wrong = tiny_project.image_ids(model="wrong")
    labels = {r.id: r.city_slug for r in tiny_project.images()}
    assert sorted(right + wrong) == sorted(kept)
    assert all(stored[i][0] == labels[i] for i in right) and all(stored[i][0] != labels[i] for i in wrong)
    city = next(iter(stored.values()))[0]
    assert set(tiny_project.image_ids(predicted=city)) == {i for i, (c, _p) in stored.items() if c == city}
    # "Labelled X, the model says Y": a confusion cell, as the grid asks for it.
    slug = labels[kept[0]]
    cell = tiny_project.image_ids(city=slug, predicted=city)
    assert all(labels[i] == slug and stored[i][0] == city for i in cell)
    by_confidence = tiny_project.image_ids(order="confidence")
    sure = [stored[i][1] for i in by_confidence if i in stored]
    assert sure == sorted(sure) and set(by_confidence[len(sure):]) == set(labels) - set(stored)
    assert set(tiny_project.image_ids(model="unpredicted")) == set(labels) - set(stored)
    # An image deleted later takes its guess with it.
    tiny_project.forget_images([kept[0]])
    assert kept[0] not in tiny_project.predictions()
    with pytest.raises(GeoSpottrError, match="unknown model filter"):
        tiny_project.image_ids(model="maybe")
    assert main(["--project", root, "predict", "--dataset", "x.jpg", "--model", str(random_bundle)]) == 1
    assert "give no IMAGE" in capsys.readouterr().err
