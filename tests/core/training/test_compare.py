"""runs --compare: every run's settings and results side by side, from the run folders alone."""

from __future__ import annotations

import json

from core.cli.main import main
from core.training import runs
from core.training.compare import compare_runs


def _run(root, run_id: str, config: dict, epochs: list[tuple[float, float]], report: dict | None = None):
    folder = root / run_id
    folder.mkdir(parents=True)
    runs.write_json(folder / runs.CONFIG, config)
    runs.write_json(folder / runs.STATUS, {"status": "finished", "reason": "done"})
    with open(folder / runs.METRICS, "w") as fh:
        for n, (acc, seconds) in enumerate(epochs, 1):
            fh.write(json.dumps({"kind": "epoch", "data": {"epoch": n, "val_acc": acc, "epoch_time": seconds,
                                                           "epochs": len(epochs)}}) + "\n")
    if report is not None:
        (folder / "report.json").write_text(json.dumps(report))


def test_compare_reads_settings_results_and_the_test_report(tiny_project, capsys):
    root = tiny_project.runs_dir
    _run(root, "20261201-100000-probe", {"arch": "efficientnet-lite0-probe", "head": "probe", "image_size": 320,
                                         "lr": 0.01, "epochs": 1}, [(0.45, 30.0)],
         {"split": "test", "macro": {"f1": 0.438}})
    _run(root, "20261202-100000-tune", {"arch": "efficientnet-lite0", "head": "finetune", "image_size": 224,
                                        "lr": 0.001, "epochs": 3}, [(0.3, 60.0), (0.41, 61.0), (0.39, 59.5)],
         {"split": "val", "macro": {"f1": 0.5}})  # a val report is not a test figure
    (root / "20261203-100000-broken").mkdir()
    (root / "20261203-100000-broken" / runs.CONFIG).write_text("[not an object")
    rows = {r.run_id: r for r in compare_runs(tiny_project)}
    probe, tune = rows["20261201-100000-probe"], rows["20261202-100000-tune"]
    assert (probe.head, probe.image_size, probe.lr, probe.best_val_acc, probe.test_macro_f1) == ("probe", 320, 0.01, 0.45, 0.438)
    assert (tune.epochs, tune.best_val_acc, tune.test_macro_f1, tune.train_seconds) == (3, 0.41, None, 180.5)
    assert rows["20261203-100000-broken"].status == "unreadable"  # listed, never raising
    assert main(["--project", str(tiny_project.root), "runs", "--compare"]) == 0
    out = capsys.readouterr().out
    assert "test F1" in out and "0.438" in out and "3.0 min" in out
    assert main(["--project", str(tiny_project.root), "runs", "--compare", "--json"]) == 0
    assert {r["run_id"] for r in json.loads(capsys.readouterr().out)} == set(rows)
