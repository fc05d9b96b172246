"""An earlier run overlaid on the plots is read from its metrics.jsonl with its resume records, so on the
wall-time axis a run stopped and resumed a quarter of an hour later shows no quarter-hour gap."""

from __future__ import annotations

import json

from core.events import Control
from geospottr_gui.views.train.runs_list import load_series

T0 = 1_700_000_000.0


def _line(kind: str, data: dict, time: float) -> str:
    return json.dumps({"kind": kind, "data": data, "time": time})


def test_an_overlaid_resumed_run_leaves_out_the_wait_before_its_resume(tmp_path):
    step = {"lr": 0.01, "epoch": 1, "steps": 20}
    lines = [_line("iteration", {"iteration": i, "loss": 2.0 - i / 40, "step": i, **step}, T0 + i) for i in range(1, 11)]
    lines.append(_line("resume", {"epoch": 0, "iteration": 5}, T0 + 900.0))  # back from its checkpoint at 5
    lines += [_line("iteration", {"iteration": i, "loss": 2.0 - i / 40, "step": i, **step}, T0 + 900.0 + i)
              for i in range(6, 21)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    series = load_series(str(tmp_path), "earlier run", on_event=lambda e: None, control=Control())
    assert series.resumes == [T0 + 900.0]
    x = series.iteration_x("time")
    assert len(x) == 20 and float(x[-1]) < 60  # ~20 s of training, not 15 minutes
