"""How a run's state reads in a list: one wording for ``geospottr runs`` and the app's runs list.

Why not print `RunInfo`'s fields as they are: status.json says "running" for a paused run too (the pause is
a flag beside it), and config.json's epoch count is what the user asked for, while a linear probe fits once
(one "epoch") and an early stop ends sooner, so "1/10" would read as a run that stopped after one epoch.
"""

from __future__ import annotations

from .runs import RunInfo


def status_text(status: str, paused: bool, iteration: int, total: int) -> str:
    """"running 42%" / "paused 42%" for a live run (any process's), else the status."""
    if status != "running":
        return status
    return ("paused" if paused else "running") + (f" {iteration / total:.0%}" if total else "")


def run_status_text(info: RunInfo) -> str:
    """`status_text` of a listed run."""
    return status_text(info.status, info.paused, info.iteration, info.total)


def val_acc_text(info: RunInfo) -> str:
    """"47.0%", "47.0% before refit" for a probe whose saved model was refit on train + val after its val
    figure was measured (so the figure describes the train-only fit), "-" before any validation."""
    if info.best_val_acc is None:
        return "-"
    return f"{info.best_val_acc:.1%}" + (" before refit" if info.refit else "")


def epochs_text(info: RunInfo) -> str:
    """"3/10" while a run can still go on (running, stopped, failed); a finished run's count alone ("1" for a
    probe, "4" for an early stop), since its planned total no longer says anything about it."""
    if info.status == "finished":
        return str(info.epochs_done)
    return f"{info.epochs_done}/{info.epochs}"
