"""The "Find problems" dialog: scan the project, review findings by kind, reject the chosen ones.

The scan is `core.quality.scan` run through the one worker pattern (cancellable, never on the UI
thread). Findings are listed under their kind with thumbnails and check boxes: a measured problem (unreadable,
blank, blurred, duplicate) comes ticked, a network's opinion (label errors, outliers, indoor scenes)
unticked, worst first, for the user to pick (`core.quality.checks.PRESELECTED`). "Reject selected" applies them through the project's curation
history, so Edit > Undo (or the Undo button here) puts the images back; nothing is ever deleted.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.events import DONE, LOG, PROGRESS, Event
from core.quality import (
    CHECKS,
    KINDS,
    Finding,
    ScanOptions,
    apply_findings,
    group_by_kind,
    open_findings,
    reopen_unrejected,
    scan,
)
from core.quality.checks import PRESELECTED, SPECS

from ...context import AppContext
from ...model_service import choose_model_file
from ...plaintext import plain_tooltip
from ...workers import JobHandle, start_job
from .image_grid import ThumbnailProvider

THUMB = 64
#: Checks that run without torch (the others load a network, in the scan's worker).
TORCH_FREE_CHECKS = {name for name, spec in SPECS.items() if not spec.needs_torch}
#: How a scan's summary names the checks that ran.
CHECK_NAMES = {"frames": "frames", "duplicates": "duplicates", "outliers": "outliers", "scene": "scene",
               "labels": "label errors"}
#: The file each model-based check needs: (field title, file dialog filter).
def _choose_weights(parent: QWidget, start: str, title: str) -> str:
    return QFileDialog.getOpenFileName(parent, title, start, "Places365 weights (*.pth.tar *.pth *.tar);;All files (*)")[0]


#: Each file input's button and how it asks for its file (a model: the app's one model dialog).
FILE_KINDS = {"scene": ("Places365 weights…", _choose_weights), "labels": ("Model…", choose_model_file)}
FindingRole = Qt.ItemDataRole.UserRole + 1


def scan_summary(findings: int, images: int, checks: list[str]) -> str:
    """"No problems in 400 images: frames, duplicates" — the count and which checks ran."""
    ran = ", ".join(CHECK_NAMES.get(c, c) for c in checks) or "no check"
    head = f"No problems in {images:,} images" if not findings else f"{findings:,} findings in {images:,} images"
    return f"{head}: {ran}."


class ProblemsDialog(QDialog):
    """Open with ``ProblemsDialog(context, parent).exec()``; the last scan's open findings show at once."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Find problems")
        self.resize(900, 640)
        shared = getattr(parent, "thumbnails", None)
        self.thumbnails: ThumbnailProvider = shared if isinstance(shared, ThumbnailProvider) else ThumbnailProvider(self)
        self._own_thumbnails = self.thumbnails is not shared
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.job: JobHandle | None = None
        self._notes: list[str] = []  # log lines of the running scan (e.g. a check skipped), kept for the summary
        self._items: dict[str, list[QTreeWidgetItem]] = {}

        self.checks = {name: QCheckBox(SPECS[name].title) for name in CHECKS}
        for name in ("frames", "duplicates"):
            self.checks[name].setChecked(True)
        self.weights = QLineEdit(placeholderText="resnet18_places365.pth.tar from MIT CSAIL")
        self.model = QLineEdit(placeholderText="a model bundle from Train")
        # The project's model (its best run unless one was chosen) is preset; the check stays off until the
        # user picks or types a model, since it loads a network and is slower.
        self._preset_model(context.model_path or "")
        context.model_changed.connect(self._preset_model)
        self.weights.textChanged.connect(lambda t: self.checks["scene"].setChecked(bool(t)))
        self.model.textChanged.connect(lambda t: self.checks["labels"].setChecked(bool(t)))
        self._scan_result: dict = {}   # the finished scan's DONE data: images scanned, checks run

        self.scan_button = QPushButton("Scan")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Image", "Problem", "Score"])
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setColumnWidth(0, 260)
        self.tree.setColumnWidth(1, 480)
        self.reject_button = QPushButton("Reject selected")
        self.undo_button = QPushButton("Undo")
        self.close_button = QPushButton("Close")

        layout = QVBoxLayout(self)
        for name in ("frames", "duplicates", "outliers"):
            layout.addWidget(self.checks[name])
        for name, field in (("scene", self.weights), ("labels", self.model)):
            row = QHBoxLayout()
            row.addWidget(self.checks[name])
            row.addWidget(field, 1)
            browse = QPushButton(FILE_KINDS[name][0])
            browse.clicked.connect(lambda _=False, n=name, f=field: self._browse(n, f))
            row.addWidget(browse)
            layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.scan_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)
        row = QHBoxLayout()
        row.addWidget(self.reject_button)
        row.addWidget(self.undo_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout.addLayout(row)

        self.scan_button.clicked.connect(self.start_scan)
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.reject_button.clicked.connect(self.reject_selected)
        self.undo_button.clicked.connect(self.undo)
        self.close_button.clicked.connect(self.close)
        self.tree.itemChanged.connect(lambda *_: self._update_buttons())
        self.show_findings(open_findings(context.project))

    # ------------------------------------------------------------------ scan
    def selected_checks(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked()]

    def start_scan(self) -> None:
        checks = self.selected_checks()
        if not checks:
            self.status.setText("Choose at least one check.")
            return
        for name, field in (("scene", self.weights), ("labels", self.model)):
            if name in checks and not field.text().strip():
                self.status.setText(f"{SPECS[name].title}: choose its file with “{FILE_KINDS[name][0]}”, "
                                    "or untick it.")
                return
        options = ScanOptions(scene_weights=_path(self.weights.text()), model=_path(self.model.text()),
                              load_model=self.context.models.get)
        self.scan_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText("Scanning…")
        self._notes = []
        self._scan_result = {}
        self.job = start_job(self, scan, self.context.project, checks, options=options, title="Problem scan",
                             workspace="Dataset", on_event=self._on_event,
                             needs_torch=not set(checks) <= TORCH_FREE_CHECKS,
                             on_finished=self._scan_finished, on_failed=self._scan_failed,
                             on_cancelled=lambda: self._scan_ended("Scan cancelled; nothing changed."))

    def cancel_scan(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_event(self, event: Event) -> None:
        if event.kind == DONE and event.scope == "clean":
            self._scan_result = dict(event.data)
        elif event.kind == PROGRESS and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done or 0)
        elif event.kind == LOG and event.message:
            self._notes.append(event.message)
            self.status.setText(event.message)

    def _scan_finished(self, findings: list[Finding]) -> None:
        done = self._scan_result
        summary = scan_summary(len(findings), int(done.get("images", 0)), list(done.get("checks", [])))
        self._scan_ended("\n".join([summary, *self._notes]))
        self.show_findings(findings)

    def _scan_failed(self, message: str) -> None:
        self._scan_ended(f"Scan failed: {message}")

    def _scan_ended(self, text: str) -> None:
        self.status.setText(text)
        self.scan_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    # ------------------------------------------------------------------ findings
    def show_findings(self, findings: list[Finding]) -> None:
        """Fill the tree: a top-level row per kind, a child per finding, ticked for `PRESELECTED` kinds."""
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        project = self.context.project
        records = project.images_by_id([f.image_id for f in findings])
        labels = {c.slug: c.label for c in project.cities()}
        for kind, items in group_by_kind(findings).items():
            top = QTreeWidgetItem(self.tree, [f"{KINDS.get(kind, kind)} ({len(items)})"])
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsAutoTristate | Qt.ItemFlag.ItemIsUserCheckable)
            state = Qt.CheckState.Checked if kind in PRESELECTED else Qt.CheckState.Unchecked
            top.setCheckState(0, state)
            top.setFirstColumnSpanned(True)
            for f in items:
                record = records.get(f.image_id)
                city = labels.get(record.city_slug or "", record.city_slug or "unlabelled") if record else ""
                label = f"{city} · {f.image_id}" if record else f.image_id
                child = QTreeWidgetItem(top, [label, f.message, f"{f.score:.2f}"])
                child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                child.setCheckState(0, state)
                child.setData(0, FindingRole, f.id)
                child.setToolTip(1, plain_tooltip(f.message))
                if record is not None and f.kind != "corrupt":
                    self._items.setdefault(f.image_id, []).append(child)
                    image = self.thumbnails.get(project, record, THUMB)
                    if image is not None:
                        child.setIcon(0, QIcon(QPixmap.fromImage(image)))
            top.setExpanded(len(items) <= 50)
        self.tree.blockSignals(False)
        self._update_buttons()

    def _thumbnail_ready(self, image_id: str, size: int) -> None:
        if size != THUMB or image_id not in self._items:
            return
        record = self.context.project.images_by_id([image_id]).get(image_id)
        image = self.thumbnails.get(self.context.project, record, THUMB) if record else None
        if image is not None:
            for item in self._items[image_id]:
                item.setIcon(0, QIcon(QPixmap.fromImage(image)))

    def checked_finding_ids(self) -> list[int]:
        ids = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                child = top.child(j)
                if child.checkState(0) == Qt.CheckState.Checked:
                    ids.append(int(child.data(0, FindingRole)))
        return ids

    def reject_selected(self) -> None:
        ids = self.checked_finding_ids()
        if not ids:
            return
        n = apply_findings(self.context.project, ids, history=self.context.history)
        self.status.setText(f"Rejected {n} images (Undo puts them back).")
        self.context.status.emit(f"Rejected {n} problem images")
        self.show_findings(open_findings(self.context.project))

    def undo(self) -> None:
        edit = self.context.history.undo()
        self.status.setText(f"Undone: {edit.text}" if edit else "Nothing to undo.")
        if reopen_unrejected(self.context.project):
            self.show_findings(open_findings(self.context.project))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.reject_button.setEnabled(bool(self.checked_finding_ids()))
        self.undo_button.setEnabled(self.context.history.can_undo)

    def _preset_model(self, path: str) -> None:
        """Fill the model field without ticking the label check (only a pick by the user does that)."""
        self.model.blockSignals(True)
        self.model.setText(path)
        self.model.blockSignals(False)

    def browse_start(self, field: QLineEdit) -> str:
        """Where the file dialog opens: beside the file in the field, else the project's runs/ folder."""
        current = Path(field.text().strip()).expanduser() if field.text().strip() else None
        if current is not None and current.parent.is_dir():
            return str(current)
        runs = self.context.project.runs_dir
        return str(runs if runs.is_dir() else self.context.project.root)

    def _browse(self, name: str, field: QLineEdit) -> None:
        title, choose = FILE_KINDS[name]
        path = choose(self, self.browse_start(field), title.rstrip("…"))
        if path:
            field.setText(path)
            self.checks[name].setChecked(True)

    def done(self, result: int) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.job.wait(10000)
        if self._own_thumbnails:
            self.thumbnails.stop()
        super().done(result)

    def closeEvent(self, event) -> None:
        self.done(0)
        event.accept()


def _path(text: str) -> Path | None:
    return Path(text).expanduser() if text.strip() else None
