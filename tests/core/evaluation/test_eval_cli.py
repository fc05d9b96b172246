"""`geospottr evaluate | predict | challenge` end to end through `core.cli.main.main`."""

from __future__ import annotations

import csv
import io
import json
import shlex

from core.cli.main import main
from tests.conftest import make_photo


def test_evaluate_writes_the_report_into_the_run_folder(trained, capsys):
    assert main(["evaluate", "--project", str(trained.project_root), "--run", trained.run_id, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "per image" in out and "macro avg" in out
    run = trained.bundle.parent
    assert json.loads((run / "report.json").read_text())["split"] == "test"
    assert (run / "predictions.csv").exists() and (run / "confusion.png").exists()


def test_evaluate_with_a_model_file_reports_under_the_project(trained, capsys):
    assert main(["evaluate", "--project", str(trained.project_root), "--model", str(trained.bundle),
                 "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["split"] == "val"
    assert (trained.project_root / "reports" / f"{trained.run_id}-best" / "val-report.json").exists()


def test_predict_json_csv_and_bad_files(trained, tmp_path, capsys):
    folder = tmp_path / "photos"
    for i in range(3):
        make_photo(folder / f"{i}.jpg", seed=900 + i, kind=i)
    (folder / "broken.jpg").write_bytes(b"")
    missing = tmp_path / "missing.jpg"
    rc = main(["predict", "--model", str(trained.bundle), "--json", "--top-k", "2", str(missing), str(folder)])
    captured = capsys.readouterr()
    assert rc == 1   # two files failed, the others were still predicted
    lines = [json.loads(line) for line in captured.out.splitlines()]
    ok = [d for d in lines if "ranking" in d]
    assert len(ok) == 3 and all(len(d["ranking"]) == 2 for d in ok)
    assert "broken.jpg: empty file" in captured.err and "missing.jpg: cannot read" in captured.err
    assert "2 files could not be predicted" in captured.err
    rc = main(["predict", "--model", str(trained.bundle), "--csv", "--top-k", "0", str(folder / "0.jpg")])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rc == 0 and len(rows) == 4
    assert abs(sum(float(r["probability"]) for r in rows) - 1) < 1e-4


def test_predict_groups(trained, tmp_path, capsys):
    for place in ("a", "b"):
        for i in range(2):
            make_photo(tmp_path / "places" / place / f"{i}.jpg", seed=50 + i, kind=0 if place == "a" else 2)
    assert main(["predict", "--model", str(trained.bundle), "--json", "--group-by-folder", str(tmp_path / "places")]) == 0
    groups = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [g["views"] for g in groups] == [2, 2] and len(groups[0]["per_view"]) == 2
    assert groups[0]["ranking"][0]["city"] != groups[1]["ranking"][0]["city"]
    files = [str(tmp_path / "places" / "a" / f"{i}.jpg") for i in range(2)]
    assert main(["predict", "--model", str(trained.bundle), "--group", *files]) == 0
    assert "(2 views combined)" in capsys.readouterr().out


def test_predict_with_a_bad_model_is_one_line(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_text("nope")
    assert main(["predict", "--model", str(bad), str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geospottr: error:") and "not a GeoSpottr model bundle" in err and "\n" not in err


def test_challenge_in_the_terminal(trained, monkeypatch, capsys):
    answers = iter(["?", "Atlantis", "zagreb", "45.0,16.0"])

    def fake_input(prompt: str = "") -> str:
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    base = ["challenge", "--project", str(trained.project_root)]
    assert main([*base, "--run", trained.run_id, "--rounds", "3", "--seed", "5", "--no-open", "--player", "bo"]) == 0
    out = capsys.readouterr().out
    assert "round 1/3" in out and "cities: " in out and "not in this project" in out
    assert "truth:" in out and "\n  model " in out and "stopped; resume with" in out
    header = next(line for line in out.splitlines() if "km off" in line)
    assert header.split()[-2:] == ["right", "city?"]  # the yes/no column is not headed "city"
    assert all(line.split()[-1] in ("yes", "no") for line in out.splitlines() if line.startswith(("  you", "  model")))
    # the hint runs as printed: it names the project the game was started in
    hint = shlex.split(out.split("resume with: ")[1].splitlines()[0])
    assert hint[:3] == ["geospottr", "--project", str(trained.project_root)]
    game_id = int(hint[-1])
    answers = iter(["split"])
    assert main([*hint[1:], "--no-open"]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 rounds played" in out and "you" in out
    assert main([*base, "--scoreboard"]) == 0
    assert f"#{game_id}" in capsys.readouterr().out
    # README: `challenge --run ID --scoreboard` lists the games against that run's model
    assert main([*base, "--run", trained.run_id, "--scoreboard"]) == 0
    assert f"#{game_id}" in capsys.readouterr().out
    assert main([*base, "--run", "another-run", "--scoreboard"]) == 0
    assert "no games played yet" in capsys.readouterr().out
