"""Typo suggestions (issue 27 item 4): one edit-distance rule for every name a user types."""

from __future__ import annotations

import json

import pytest

from core.data import catalog
from core.data.project import Project
from core.errors import GeoSpottrError
from core.evaluation.metrics import choose_model
from core.models import registry
from core.names import closest, did_you_mean, edit_distance


def test_edit_distance_counts_edits_and_gives_up_past_the_limit():
    assert edit_distance("rjeka", "rijeka", 2) == 1
    assert edit_distance("kitten", "sitting", 5) == 3
    assert edit_distance("kitten", "sitting", 1) == 2  # "more than 1", found without the full table
    assert edit_distance("a", "abcdef", 2) == 3


def test_closest_ranks_by_distance_then_given_order_and_never_offers_unrelated_names():
    assert closest("Berln", ["Bern", "Berlin", "Dublin"]) == ["Bern", "Berlin"]
    assert closest("Zürch", ["Zurich, CH"], key=lambda label: label.split(",")[0]) == ["Zurich, CH"]
    assert closest("Xyzzyq", ["Zagreb", "Split"]) == []
    assert did_you_mean("Xyzzyq", ["Zagreb"]) == ""


def test_a_misspelt_catalog_city_suggests_the_large_city_by_edit_distance():
    with pytest.raises(GeoSpottrError) as err:
        catalog.resolve("Rjeka")
    assert "did you mean Rijeka, HR?" in str(err.value)
    assert "Suva Reka" not in str(err.value)  # what the old substring hint found
    with pytest.raises(GeoSpottrError, match=r"did you mean Osijek, HR\?"):
        catalog.resolve("Osjek,HR")
    with pytest.raises(GeoSpottrError, match="search for it with `geospottr cities Xyzzyq`"):
        catalog.resolve("Xyzzyq")
    catalog.resolve("Rijeka, HR")  # the suggestion itself resolves


def test_init_with_a_typo_names_the_city_meant(tmp_path, capsys):
    from core.cli.main import main

    assert main(["init", str(tmp_path / "p"), "--cities", "Zagreb,Rjeka"]) == 1
    assert "did you mean Rijeka, HR?" in capsys.readouterr().err


def test_project_cities_run_ids_and_architectures_suggest_the_nearest_name(tmp_path):
    with Project.init(tmp_path / "p", [catalog.resolve("Zagreb,HR"), catalog.resolve("Split,HR")]) as project:
        with pytest.raises(GeoSpottrError, match=r"'zagrb' is not in this project \(did you mean zagreb\?\)"):
            project.city("zagrb")
        run = project.runs_dir / "20261207-064000-baseline"
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"arch": "baseline"}))
        with pytest.raises(GeoSpottrError, match=r"no run '20261207-064000-baselin' in this project \(did you "
                                                 r"mean 20261207-064000-baseline\?\); `geospottr runs` lists them"):
            choose_model(project, run="20261207-064000-baselin")
    with pytest.raises(GeoSpottrError, match=r"did you mean efficientnet-lite0"):
        registry.spec("efficientnet-lit0")


def test_a_misspelt_versus_city_names_the_models_city():
    from types import SimpleNamespace

    from core.inference.explain import class_index

    model = SimpleNamespace(classes=[SimpleNamespace(slug=s, name=n) for s, n in
                                     (("osijek", "Osijek"), ("rijeka", "Rijeka"), ("split", "Split"))])
    assert class_index(model, "RIJEKA") == 1  # names match case- and accent-folded, as everywhere
    with pytest.raises(GeoSpottrError, match=r"'rjeka' is not one of this model's cities \(did you mean rijeka\?\)"):
        class_index(model, "rjeka")
    with pytest.raises(GeoSpottrError, match=r"\(osijek, rijeka, split\)"):
        class_index(model, "Tokyo")
