"""Compare runs: every run of the project side by side (model, head, image size, learning rate, epochs,
best val accuracy, test macro F1, training time), sortable by any column, with a tick per run that
overlays its curves on the Train plots (the same ticks as the runs list). What `geospottr runs --compare`
prints; the figures come from `core.training.compare`, read in a worker.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from core.data.project import Project
from core.events import Control

from ...workers import start_job

#: (header, RunRow field, how a value reads); numbers sort as numbers (their item holds the value).
COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("Run", "run_id", str),
    ("Model", "arch", str),
    ("Head", "head", str),
    ("Size", "image_size", lambda v: f"{v}"),
    ("LR", "lr", lambda v: f"{v:g}"),
    ("Epochs", "epochs", lambda v: f"{v}"),
    ("Best val", "best_val_acc", lambda v: f"{v:.1%}"),
    ("Test F1", "test_macro_f1", lambda v: f"{v:.3f}"),
    ("Time", "train_seconds", lambda v: f"{v / 60:.1f} min" if v >= 60 else f"{v:.0f} s"),
    ("Status", "status", str),
)


def compare_job(project: Project, *, on_event: Any, control: Control) -> list:
    """The comparison rows (reads every run's folder: a worker job)."""
    from core.training.compare import compare_runs

    return compare_runs(project)


class _Item(QTableWidgetItem):
    """A cell that sorts by its value (numbers as numbers, a missing figure last)."""

    def __init__(self, text: str, key: Any) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.key, getattr(other, "key", None)
        if mine is None or theirs is None:
            return theirs is None and mine is not None
        return mine < theirs


class CompareRunsDialog(QDialog):
    """See the module docstring. `ticked(run_id)` says whether a run's curves are overlaid; `tick(run_id,
    on)` overlays it or not (the Train workspace's runs list owns the ticks)."""

    def __init__(self, project: Project, ticked: Callable[[str], bool], tick: Callable[[str, bool], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare runs")
        self._ticked, self._tick = ticked, tick
        self.summary = QLabel("Reading the runs…")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c[0] for c in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.itemChanged.connect(self._changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.resize(980, 420)
        start_job(self, compare_job, project, on_finished=self.show_rows,
                  on_failed=lambda message: self.summary.setText(f"Cannot read the runs: {message}"))

    def show_rows(self, rows: list) -> None:
        self.table.blockSignals(True)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (_header, field, fmt) in enumerate(COLUMNS):
                value = getattr(row, field)
                item = _Item("-" if value is None else fmt(value), value)
                if c == 0:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if self._ticked(row.run_id) else Qt.CheckState.Unchecked)
                    item.setData(Qt.ItemDataRole.UserRole, row.run_id)
                    item.setToolTip("Tick to overlay this run's curves on the Train plots")
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.blockSignals(False)
        self.summary.setText(f"{len(rows)} runs · click a heading to sort · tick runs to overlay their curves"
                             if rows else "No training runs yet.")

    def _changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self._tick(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)

    def row_ids(self) -> list[str]:
        """Run ids in the table's current (sorted) order."""
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.table.rowCount())]
