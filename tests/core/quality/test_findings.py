"""A scan over a real project with generated bad frames: findings, persistence, apply, undo, CLI."""

from __future__ import annotations

import pytest

from core.cli.main import main
from core.errors import GeoSpottrError
from core.events import LOG, Control
from core.quality import apply_findings, dismiss_findings, open_findings, parse_checks, scan, undo_last_apply
from core.quality.findings import REASON_PREFIX

from .conftest import by_name


def kinds_by_name(project, findings):
    names = {v: k for k, v in by_name(project).items()}
    out: dict[str, set[str]] = {}
    for f in findings:
        out.setdefault(names[f.image_id], set()).add(f.kind)
    return out


def test_scan_finds_each_generated_problem_and_nothing_else(bad_project):
    findings = scan(bad_project, "frames,duplicates")
    found = kinds_by_name(bad_project, findings)
    # of the two full-size copies (JPEG and exact-pixel PNG) the sharper one is kept, the small one never
    full_copies = {n for n in ("base", "base_exact") if found.pop(n, None) == {"duplicate"}}
    assert len(full_copies) == 1
    assert found == {
        "placeholder": {"placeholder"}, "dark": {"dark"}, "bright": {"bright"}, "blurry": {"blurry"},
        "base_small": {"duplicate"}, "other": {"label_conflict"}, "other_conflict": {"label_conflict"},
    }
    ids = by_name(bad_project)
    dups = [f for f in findings if f.kind == "duplicate"]
    assert {f.group for f in dups} == {f"dup-{dups[0].details['keep']}"}
    assert dups[0].details["keep"] in (ids["base"], ids["base_exact"])
    conflict = next(f for f in findings if f.kind == "label_conflict")
    assert conflict.details["cities"] == ["osijek", "zagreb"]
    assert all(f.id is not None and f.created for f in findings)


def test_corrupt_file_is_a_finding(bad_project):
    record = bad_project.image(by_name(bad_project)["good0"])
    path = bad_project.image_path(record)
    path.write_bytes(path.read_bytes()[:300])
    findings = scan(bad_project, "frames")
    corrupt = [f for f in findings if f.kind == "corrupt"]
    assert [f.image_id for f in corrupt] == [record.id]
    assert str(bad_project.root) not in corrupt[0].message


def test_rescan_replaces_open_findings_and_apply_undo_round_trip(bad_project):
    first = scan(bad_project, "frames")
    again = scan(bad_project, "frames")
    assert len(open_findings(bad_project)) == len(again) == len(first)
    dark = next(f for f in again if f.kind == "dark")
    bad_project.set_status([dark.image_id], "accepted")
    assert apply_findings(bad_project, [dark.id]) == 1
    rec = bad_project.image(dark.image_id)
    assert rec.status == "rejected" and rec.reason.startswith(REASON_PREFIX) and "near-black" in rec.reason
    assert dark.id not in {f.id for f in open_findings(bad_project)}
    assert len(bad_project.images()) == 16  # nothing deleted
    assert scan(bad_project, "frames") and dark.image_id not in {f.image_id for f in open_findings(bad_project)}
    assert undo_last_apply(bad_project) == 1
    rec = bad_project.image(dark.image_id)
    assert (rec.status, rec.reason) == ("accepted", None)
    assert undo_last_apply(bad_project) == 0


def test_apply_through_curation_history_is_undoable(bad_project):
    from core.data.curation import CurationHistory

    history = CurationHistory(bad_project)
    findings = [f for f in scan(bad_project, "frames") if f.kind in ("dark", "bright")]
    assert apply_findings(bad_project, [f.id for f in findings], history=history) == 2
    assert history.can_undo and "2 problem images" in history.undo_text
    history.undo()
    assert {bad_project.image(f.image_id).status for f in findings} == {"pending"}


def test_dismissed_findings_leave_the_image_alone(bad_project):
    blur = next(f for f in scan(bad_project, "frames") if f.kind == "blurry")
    assert dismiss_findings(bad_project, [blur.id]) == 1
    assert bad_project.image(blur.image_id).status == "pending"
    assert blur.id not in {f.id for f in open_findings(bad_project)}


def test_checks_needing_files_are_skipped_with_one_line(bad_project):
    lines = []
    scan(bad_project, "frames,scene,labels", on_event=lambda e: lines.append(e.message) if e.kind == LOG else None)
    assert len(lines) == 2 and "--weights" in lines[0] and "--model" in lines[1]


def test_cancel_stores_nothing(bad_project):
    control = Control()
    control.cancel()
    with pytest.raises(GeoSpottrError):
        scan(bad_project, "frames", control=control)
    assert open_findings(bad_project) == []


def test_parse_checks():
    assert parse_checks("duplicates, frames") == ("frames", "duplicates")
    with pytest.raises(GeoSpottrError, match="unknown check 'blurr'"):
        parse_checks("blurr")


def test_cli_lists_applies_and_undoes(bad_project, capsys):
    root = str(bad_project.root)
    assert main(["clean", "--project", root, "--checks", "frames,duplicates"]) == 0
    out = capsys.readouterr().out
    assert "Near-black frames: 1" in out and "Duplicates labelled with different cities: 2" in out
    assert main(["clean", "--project", root, "--list", "--apply"]) == 0
    assert "rejected 8 images" in capsys.readouterr().out
    assert bad_project.stats()["images"] == 16
    assert len(bad_project.images(status="rejected")) == 8
    assert main(["clean", "--project", root, "--undo"]) == 0
    assert "restored 8 images" in capsys.readouterr().out
    assert bad_project.images(status="rejected") == []


def test_cli_bad_threshold_is_one_line(bad_project, capsys):
    assert main(["clean", "--project", str(bad_project.root), "--threshold", "blur"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NAME=VALUE" in err


def test_cli_only_applies_the_chosen_kinds(bad_project, capsys):
    root = str(bad_project.root)
    assert main(["clean", "--project", root, "--checks", "frames", "--only", "dark,bright", "--apply"]) == 0
    assert "rejected 2 images" in capsys.readouterr().out
    assert {r.source_id for r in bad_project.images(status="rejected")} == {"dark", "bright"}
    assert main(["clean", "--project", root, "--list", "--only", "darkk"]) == 1
    assert "unknown kind 'darkk'" in capsys.readouterr().err


def test_thresholds_reach_their_checks():
    from core.cli.clean_cmds import parse_thresholds

    options = parse_thresholds(["blur=0.1", "hamming=4", "indoor=0.7", "outlier=5", "label=0.9", "bright=250"])
    assert (options.frames.blur, options.frames.bright, options.frames.dark) == (0.1, 250.0, 40.0)
    assert (options.hamming, options.indoor, options.outlier_z, options.label_confidence) == (4, 0.7, 5.0, 0.9)
    with pytest.raises(GeoSpottrError, match="non-number"):
        parse_thresholds(["blur=soft"])


def test_blank_frames_are_not_duplicates_of_each_other(tmp_path):
    from PIL import Image

    from .conftest import write_project

    images = {"grey": (Image.new("RGB", (640, 640), (228, 227, 223)), "Zagreb", "JPEG"),
              "black": (Image.new("RGB", (64, 64), (3, 3, 3)), "Zagreb", "JPEG"),
              "white": (Image.new("RGB", (64, 64), (253, 253, 253)), "Split", "JPEG")}
    with write_project(tmp_path, images) as project:
        kinds = sorted(f.kind for f in scan(project, "frames,duplicates"))
    assert kinds == ["bright", "dark", "placeholder"]


def test_cli_apply_leaves_a_models_opinions_for_review_unless_named(bad_project, capsys):
    """`clean --apply` rejects measured problems; label errors (a model's opinion) only with --only."""
    from core.quality import Finding
    from core.quality.findings import _store

    ids = bad_project.image_ids(status=["pending", "accepted"])
    _store(bad_project, [Finding(ids[0], "dark", 0.9, "near-black"), Finding(ids[1], "label_error", 0.5, "x")],
           ["dark", "label_error"])
    root = str(bad_project.root)
    assert main(["clean", "--project", root, "--list", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "rejected 1 image" in out and "1 finding of label_error left for review" in out
    assert bad_project.image(ids[0]).status == "rejected" and bad_project.image(ids[1]).status != "rejected"
    assert main(["clean", "--project", root, "--list", "--apply", "--only", "label_error"]) == 0
    assert bad_project.image(ids[1]).status == "rejected"
