"""The Download panel's run: start (after a cost question), pause, cancel, and follow the job's events
in the per-city table, the overall bar, the spend line and the log; a failure explained in plain words.
Its own module so `download_panel` keeps to the form, the plan and the estimate; `DownloadPanel` mixes
this in and builds the widgets it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from core.acquisition import keys
from core.acquisition.jobs import CostEstimate, DownloadConfig, DownloadSummary, run_download
from core.acquisition.plan import DownloadPlan
from core.events import DONE, ERROR, LOG, PROGRESS, WARNING, Control, Event, EventCallback

from ...context import AppContext
from ...plaintext import plain_tooltip
from ...qt_mixins import WidgetMixin
from ...settings import DOWNLOAD_PER_CITY, DOWNLOAD_PROVIDER, DOWNLOAD_SECRET
from ...workers import JobHandle, start_job

PROVIDERS = (("streetview", "Google Street View"), ("mapillary", "Mapillary"))
SECRETS = {"streetview": keys.GOOGLE_KEY, "mapillary": keys.MAPILLARY_TOKEN}
#: Ask before starting a Street View download estimated to cost at least this many dollars.
CONFIRM_COST_USD = 1.0


def explain(message: str) -> str:
    """A core error in plain words, with what to do about it (the core's own text follows)."""
    low = message.lower()
    if "over_query_limit" in low or "429" in low or "quota" in low or "budget" in low:
        hint = "The provider's quota or your request budget is used up: wait, or raise the quota in its console."
    elif "refused" in low or "denied" in low or ("invalid" in low and "key" in low):
        hint = "The provider refused the key or token: check it, and that the API is enabled for it."
    elif "no google maps api key" in low or "no mapillary access token" in low:
        hint = "Enter a key or token above (or store one in the OS keyring)."
    elif "coverage" in low:
        hint = "There is little or no imagery in this area: try a larger radius or another provider."
    elif "gave up" in low or "request failed" in low or "failed requests in a row" in low:
        hint = "The service could not be reached: check the network connection."
    elif "another download" in low:
        hint = "Another download is running on this project."
    else:
        return message
    return f"{hint}\n({message})"


def spend_text(data: dict[str, Any]) -> str:
    """The spend line from a download progress event: the whole job's billed requests (earlier runs of it
    included) with the refused placeholders among them, which Google bills like any image."""
    requests, refused = data.get("job_image_requests", 0), data.get("job_refused", 0)
    return (f"This job: {requests:,} billed image requests ({refused:,} refused placeholders), "
            f"about ${data.get('job_cost', 0.0):,.2f} so far")


def store_secret_job(spec: keys.SecretSpec, value: str, *, on_event: EventCallback, control: Control) -> bool:
    """Job: `keys.store_secret` (it may block on a desktop unlock prompt); False when no keyring works."""
    return keys.store_secret(spec, value)


class DownloadRun(WidgetMixin):
    """The run of `DownloadPanel` (mixed into that QWidget, which builds these widgets and the form's
    `config`, `use_plan` and `provider_id`)."""

    context: AppContext
    job: JobHandle | None
    plan: DownloadPlan | None
    _estimate: CostEstimate | None
    _rows: dict[str, int]
    _counts: dict[str, dict[str, int]]
    _counts_timer: QTimer
    _estimate_timer: QTimer
    provider: QComboBox
    key: QLineEdit
    remember: QCheckBox
    in_settings: QCheckBox
    per_city: QSpinBox
    random: QRadioButton
    addresses: QRadioButton
    address_file: QLineEdit
    browse: QPushButton
    workers: QSpinBox
    price: QDoubleSpinBox
    budget: QSpinBox
    start_button: QPushButton
    pause_button: QPushButton
    cancel_button: QPushButton
    overall: QProgressBar
    cost: QLabel
    state_label: QLabel
    table: QTableWidget
    log: QPlainTextEdit
    error: QLabel
    if TYPE_CHECKING:  # the form's, in download_panel.py
        provider_id: str
        config: Callable[[], DownloadConfig]
        use_plan: Callable[..., None]
        _sampling_changed: Callable[[], None]

    def _fill_table(self, estimate: CostEstimate) -> None:
        self.table.setRowCount(len(estimate.plans))
        self._rows = {}
        for row, p in enumerate(estimate.plans):
            self._rows[p.slug] = row
            self.table.setItem(row, 0, QTableWidgetItem(p.label))
            bar = QProgressBar()
            bar.setRange(0, max(1, p.target))
            bar.setValue(min(p.have, p.target))
            bar.setFormat(f"{p.have:,} / {p.target:,}")
            # The Cities tab counts every source: say how both numbers relate, so they never seem to disagree.
            bar.setToolTip(f"{p.have:,} of the target {p.target:,} come from this provider; "
                           f"{p.total:,} images of {p.label} in all (every source, as the Cities tab counts)")
            self.table.setCellWidget(row, 1, bar)
            counts = self._counts.get(p.slug, {})
            for col, name in ((2, "saved"), (3, "no_coverage"), (4, "errors")):
                self.table.setItem(row, col, QTableWidgetItem(f"{counts.get(name, 0):,}"))
        total = sum(p.target for p in estimate.plans)
        self.overall.setRange(0, max(1, total))
        self.overall.setValue(sum(min(p.have, p.target) for p in estimate.plans))
        self.overall.setFormat(f"overall %v / {total:,}")

    # ------------------------------------------------------------------ run
    def start(self) -> None:
        if self.job is not None and self.job.running:
            return
        self.error.hide()
        estimate = self._estimate
        if (estimate is not None and estimate.provider == "streetview" and estimate.cost >= CONFIRM_COST_USD
                and QMessageBox.question(self, "Start download",
                                         f"Download {estimate.images:,} Street View images for at most "
                                         f"${estimate.cost:,.2f}?") != QMessageBox.StandardButton.Yes):
            return
        config = self.config()
        self._keep_secret(config.key)
        DOWNLOAD_PROVIDER.set(self.context.settings, self.provider_id)
        DOWNLOAD_PER_CITY.set(self.context.settings, self.per_city.value())
        self._counts = {}
        self.cost.clear()
        if estimate is not None:
            self._fill_table(estimate)
        self.log.appendPlainText(f"starting a {dict(PROVIDERS)[self.provider_id]} download…")
        self.job = start_job(self, run_download, self.context.project, config, title="Download", workspace="Dataset", keeps_work=True,
                             on_event=self._on_event,
                             on_finished=self._finished, on_failed=self._failed, on_cancelled=self._cancelled)
        self._set_running(True)
        self._counts_timer.start()

    def toggle_pause(self) -> None:
        if self.job is None or not self.job.running:
            return
        if self.job.control.paused:
            self.job.resume()
            self.pause_button.setText("Pause")
            self._show_state("Downloading…")
            self.log.appendPlainText("resumed")
        else:
            self.job.pause()
            self.pause_button.setText("Resume")
            self._show_state("Paused: requests in flight finish, then nothing more is requested or billed.",
                             paused=True)
            self.log.appendPlainText("paused (requests in flight finish first)")

    def _show_state(self, text: str, paused: bool = False) -> None:
        self.state_label.setText(text)
        self.state_label.setStyleSheet("color: #8a5a00; font-weight: bold" if paused else "")
        self.overall.setFormat(("Paused · " if paused else "") + "overall %v / %m")

    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.log.appendPlainText("cancelling after the images in flight…")

    def _keep_secret(self, secret: str | None) -> None:
        settings_key = DOWNLOAD_SECRET.key(self.provider_id)
        if secret and self.in_settings.isChecked():
            settings_key.set(self.context.settings, secret)
        else:
            settings_key.remove(self.context.settings)
            if secret and self.remember.isChecked():
                start_job(self, store_secret_job, SECRETS[self.provider_id], secret, on_finished=self._stored)

    def _stored(self, ok: bool) -> None:
        self.log.appendPlainText("key saved in the OS keyring" if ok else
                                 "no OS keyring is available here: the key is used for this session only")

    def _on_event(self, event: Event) -> None:
        if event.kind == PROGRESS and event.scope in self._rows:
            row = self._rows[event.scope]
            data = event.data
            self._counts[event.scope] = dict(data)
            bar = self.table.cellWidget(row, 1)
            if isinstance(bar, QProgressBar) and event.total:
                bar.setRange(0, event.total)
                bar.setValue(min(event.done or 0, event.total))
                bar.setFormat(f"{event.done:,} / {event.total:,}")
            for col, name in ((2, "saved"), (3, "no_coverage"), (4, "errors")):
                item = self.table.item(row, col)
                if item is not None:
                    item.setText(f"{data.get(name, 0):,}")
            self._update_overall()
            if "job_cost" in data and self.provider_id == "streetview":
                self.cost.setText(spend_text(data))
        elif event.kind == DONE and event.scope in self._rows:
            self._counts[event.scope] = dict(event.data)
            self.log.appendPlainText(event.message)
            self.context.images_changed.emit()
        elif event.kind == WARNING and event.scope in self._rows and event.message.startswith(f"{event.scope}: "):
            name = self.table.item(self._rows[event.scope], 0)
            if name is not None:  # a city that ended short of its target says why
                name.setText(f"⚠ {name.text().lstrip('⚠ ')}")
                name.setToolTip(plain_tooltip(event.message))
            self.log.appendPlainText("warning: " + event.message)
        elif event.kind in (WARNING, ERROR, LOG) or event.kind == DONE:
            prefix = {WARNING: "warning: ", ERROR: "error: "}.get(event.kind, "")
            self.log.appendPlainText(prefix + event.message)

    def _update_overall(self) -> None:
        done = 0
        for row in range(self.table.rowCount()):
            bar = self.table.cellWidget(row, 1)
            if isinstance(bar, QProgressBar):
                done += bar.value()
        self.overall.setValue(done)

    def _finished(self, summary: DownloadSummary) -> None:
        for line in summary.lines():
            self.log.appendPlainText(line)
        if self.plan is not None:  # done: the form is the form again (a stopped plan stays, Start resumes it)
            self.use_plan(None)
        self._ended(f"download finished: {summary.total('saved'):,} images saved")

    def _failed(self, message: str) -> None:
        self.error.setText(explain(message))
        self.error.show()
        self.cost.clear()  # the spend stays in the project: the next estimate shows it
        self.log.appendPlainText(f"stopped: {message}")
        self._ended("download stopped")

    def _cancelled(self) -> None:
        self.log.appendPlainText("cancelled; every image saved so far is kept (Start resumes)")
        self._ended("download cancelled")

    def _ended(self, status: str) -> None:
        self._counts_timer.stop()
        self._set_running(False)
        self._show_state("")
        self._estimate_timer.start()  # what is left, and what this job has spent
        self.context.status.emit(status)
        self.context.images_changed.emit()

    def _set_running(self, running: bool) -> None:
        if running:
            self._show_state("Downloading…")
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.cancel_button.setEnabled(running)
        for widget in (self.provider, self.key, self.per_city, self.random, self.addresses, self.workers, self.price,
                       self.budget):
            widget.setEnabled(not running)
        if running:
            self.address_file.setEnabled(False)
            self.browse.setEnabled(False)
        else:
            self._sampling_changed()
