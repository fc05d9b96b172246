"""The status bar's view of the long jobs (training, evaluation, download, scan, import) from anywhere.

It shows the first running job's title and progress ("Training 120/400", "+1 more" when several run);
a click brings up the workspace that shows the job (a menu when several run). The main window also
announces each end from `JobBoard.ended` in the status bar (and flashes the taskbar entry when the
window is in the background), so a user working elsewhere learns that a run has finished.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QMenu, QProgressBar, QToolButton, QWidget

from .workers import JobBoard, JobHandle

#: What the end of a job is called in the status bar.
OUTCOMES = {"finished": "finished", "failed": "failed", "cancelled": "stopped"}


def job_text(handle: JobHandle) -> str:
    """"Training 120/400" (or just the title before any progress); "Training paused 120/400" while its
    control is paused, from this window, a monitor or the command line alike (one `Control`)."""
    title = f"{handle.title} paused" if handle.control.paused else handle.title
    if handle.progress is None:
        return f"{title}…"
    done, total = handle.progress
    return f"{title} {done:,}/{total:,}"


def end_text(handle: JobHandle) -> str:
    return f"{handle.title} {OUTCOMES.get(handle.outcome or '', 'ended')}"


class JobsIndicator(QWidget):
    """A flat button with the running jobs and a small progress bar; hidden while nothing runs."""

    open_workspace = Signal(str)

    def __init__(self, board: JobBoard, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.board = board
        self.button = QToolButton()
        self.button.setAutoRaise(True)
        self.button.setToolTip("Running jobs: click to see")
        self.button.clicked.connect(self._clicked)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(90, 12)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.bar)
        board.changed.connect(self.refresh)
        self.refresh()

    def running(self) -> list[JobHandle]:
        return [h for h in self.board.handles if h.running]

    def refresh(self) -> None:
        jobs = self.running()
        self.setVisible(bool(jobs))
        if not jobs:
            return
        first = jobs[0]
        more = f"  +{len(jobs) - 1} more" if len(jobs) > 1 else ""
        self.button.setText(job_text(first) + more)
        self.button.setToolTip("\n".join(job_text(h) for h in jobs) + "\nClick to see")
        if first.progress is None:
            self.bar.setRange(0, 0)  # busy: no count yet
        else:
            done, total = first.progress
            self.bar.setRange(0, max(total, 1))
            self.bar.setValue(min(done, total))

    def _clicked(self) -> None:
        jobs = [h for h in self.running() if h.workspace]
        if len(jobs) == 1:
            self.open_workspace.emit(jobs[0].workspace)
        elif jobs:
            menu = QMenu(self)
            for handle in jobs:
                action = menu.addAction(job_text(handle))
                action.triggered.connect(lambda _checked=False, w=handle.workspace: self.open_workspace.emit(w))
            menu.popup(self.button.mapToGlobal(self.button.rect().topLeft()))
