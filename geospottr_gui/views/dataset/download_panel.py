"""The Download panel: fill the project's cities from Street View or Mapillary through `core.acquisition`.

Nothing here talks to a network or a keyring on the UI thread: the cost estimate, the download, and
storing a key in the OS keyring all run as jobs (`workers.start_job`). Keys are masked, never logged,
and kept only where the user asks: the OS keyring (default) or, when explicitly chosen, QSettings.
The advisor (`advisor_panel.AdvisorPanel`, "What to collect next") hands its plan here: while a plan is
set, the estimate and the download are the plan's (its cities, counts and sub-areas), until it finishes
or is cleared.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
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
    QVBoxLayout,
    QWidget,
)

from core.acquisition import keys
from core.acquisition.jobs import (
    DEFAULT_PRICE_PER_1000,
    CostEstimate,
    DownloadConfig,
    DownloadSummary,
    estimate_cost,
    run_download,
)
from core.acquisition.plan import DownloadPlan
from core.data.project import Project
from core.events import DONE, ERROR, LOG, PROGRESS, WARNING, Control, Event, EventCallback

from ...context import AppContext
from ...plaintext import plain_tooltip
from ...settings import DOWNLOAD_PER_CITY, DOWNLOAD_PROVIDER, DOWNLOAD_SECRET
from ...workers import JobHandle, start_job
from .advisor_panel import AdvisorPanel

PROVIDERS = (("streetview", "Google Street View"), ("mapillary", "Mapillary"))
SECRETS = {"streetview": keys.GOOGLE_KEY, "mapillary": keys.MAPILLARY_TOKEN}
#: Ask before starting a Street View download estimated to cost at least this many dollars.
CONFIRM_COST_USD = 1.0
LOG_LINES = 500
#: (header, tooltip): short headers, so the table fits the Dataset's left pane at 1024 px.
_COLUMNS = (("City", ""), ("Progress", "images from this provider / its target (the Cities tab counts every source)"), ("Saved", "images saved"),
            ("Empty", "places without imagery (no coverage; Street View still bills them)"),
            ("Errors", "requests that failed"))


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


def estimate_job(project: Project, config: DownloadConfig, *, on_event: EventCallback,
                 control: Control) -> CostEstimate:
    """Job wrapper: the cost estimate reads the database, so it stays off the UI thread."""
    return estimate_cost(project, config)


class DownloadPanel(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.job: JobHandle | None = None
        #: Extra `DownloadConfig` fields (tests point at a loopback server with fast retries here).
        self.config_overrides: dict[str, Any] = {}
        self._estimate_seq = 0
        self._estimate: CostEstimate | None = None
        self._rows: dict[str, int] = {}
        self._counts: dict[str, dict[str, int]] = {}  # latest counts per city from the running/last download
        self.plan: DownloadPlan | None = None  # the advisor's, while set (see `use_plan`)
        settings = context.settings

        self.provider = QComboBox()
        for value, label in PROVIDERS:
            self.provider.addItem(label, value)
        self.provider.setCurrentIndex(max(0, self.provider.findData(DOWNLOAD_PROVIDER.get(settings))))
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox("Remember in the OS keyring")
        self.remember.setChecked(True)
        self.in_settings = QCheckBox("Store in GeoSpottr's settings instead")
        self.in_settings.setToolTip("Plain text in GeoSpottr's settings file: only on a private machine")
        self.per_city = QSpinBox()
        self.per_city.setRange(0, 1_000_000)
        self.per_city.setSpecialValueText("each city's target")
        self.per_city.setValue(DOWNLOAD_PER_CITY.get(settings))
        self.random = QRadioButton("Random points in each city's radius")
        self.addresses = QRadioButton("Addresses from a file (CSV / GeoJSON)")
        self.random.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.random)
        group.addButton(self.addresses)
        self.address_file = QLineEdit()
        self.address_file.setPlaceholderText("address-book file")
        self.browse = QPushButton("Browse…")
        self.workers = QSpinBox()
        self.workers.setRange(1, 16)
        self.workers.setValue(4)
        self.price = QDoubleSpinBox()
        self.price.setRange(0, 1000)
        self.price.setDecimals(2)
        self.price.setPrefix("$")
        self.price.setSuffix(" per 1,000")
        self.price.setValue(DEFAULT_PRICE_PER_1000)
        # The CLI's --budget: the most billed image requests one run may make (0: only the estimate's bound).
        self.budget = QSpinBox()
        self.budget.setRange(0, 10_000_000)
        self.budget.setSingleStep(100)
        self.budget.setSpecialValueText("no budget")
        self.budget.setSuffix(" images")
        self.budget.setToolTip("Stop after this many billed image requests (refused placeholders count: Google "
                               "bills them too). The run never passes the estimate's “at most” either.")
        self.estimate = QLabel("…")
        self.estimate.setWordWrap(True)
        self.start_button = QPushButton("Start download")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.overall = QProgressBar()
        self.cost = QLabel()
        self.cost.setWordWrap(True)
        # Running / Paused / stopped, in words next to the buttons (the buttons alone do not say it).
        self.state_label = QLabel()
        self.state_label.setTextFormat(Qt.TextFormat.PlainText)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels([name for name, _tip in _COLUMNS])
        for col, (_name, tip) in enumerate(_COLUMNS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(24)
        for col in range(len(_COLUMNS)):  # the counts take what they need; city and progress share the rest
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch if col < 2 else
                                        QHeaderView.ResizeMode.ResizeToContents)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.error = QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # server answers are shown, never rendered
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        self.error.hide()

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # labels above fields in a narrow pane
        form.addRow("Provider", self.provider)
        self.key_label = QLabel()
        form.addRow(self.key_label, self.key)
        form.addRow(self.remember)
        form.addRow(self.in_settings)
        form.addRow("Images per city", self.per_city)
        file_row = QHBoxLayout()
        file_row.addWidget(self.address_file, 1)
        file_row.addWidget(self.browse)
        sampling = QVBoxLayout()
        sampling.addWidget(self.random)
        sampling.addWidget(self.addresses)
        sampling.addLayout(file_row)
        form.addRow(QLabel("Sampling"))
        form.addRow(sampling)
        form.addRow("Parallel requests", self.workers)
        self.price_label = QLabel("Price")
        form.addRow(self.price_label, self.price)
        self.budget_label = QLabel("Budget")
        form.addRow(self.budget_label, self.budget)
        form.addRow("Estimate", self.estimate)
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        self.clear_plan = QPushButton("Clear plan")
        self.clear_plan.clicked.connect(lambda: self.use_plan(None))
        plan_row = QHBoxLayout()
        plan_row.addWidget(self.plan_label, 1)
        plan_row.addWidget(self.clear_plan)
        self.plan_label.hide()
        self.clear_plan.hide()
        form.addRow(plan_row)
        self.advisor = AdvisorPanel(context, self.config)
        self.advisor.plan_chosen.connect(lambda advice: self.use_plan(advice.plan(), advice.estimate))
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.state_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addWidget(self.overall)
        layout.addWidget(self.cost)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.log, 1)
        advisor_title = QLabel("<b>What to collect next</b>")
        layout.addWidget(advisor_title)
        layout.addWidget(self.advisor, 2)

        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(200)
        self._estimate_timer.timeout.connect(self._run_estimate)
        self._counts_timer = QTimer(self)
        self._counts_timer.setInterval(3000)
        self._counts_timer.timeout.connect(context.images_changed.emit)
        for signal in (self.provider.currentIndexChanged, self.per_city.valueChanged, self.price.valueChanged,
                       self.budget.valueChanged):
            signal.connect(lambda *_: self._estimate_timer.start())
        self.provider.currentIndexChanged.connect(self._provider_changed)
        self.addresses.toggled.connect(self._sampling_changed)
        self.browse.clicked.connect(self._browse)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        context.images_changed.connect(self._estimate_timer.start)
        context.project_changed.connect(lambda _p: self._estimate_timer.start())
        self._provider_changed()
        self._sampling_changed()
        self._set_running(False)

    # ------------------------------------------------------------------ settings
    @property
    def provider_id(self) -> str:
        return self.provider.currentData()

    def _provider_changed(self) -> None:
        streetview = self.provider_id == "streetview"
        self.key_label.setText("API key" if streetview else "Access token")
        spec = SECRETS[self.provider_id]
        self.key.setPlaceholderText(f"empty: use ${spec.env_var} or the OS keyring")
        self.key.setText(DOWNLOAD_SECRET.key(self.provider_id).get(self.context.settings))
        self.in_settings.setChecked(bool(self.key.text()))
        for widget in (self.price, self.price_label, self.budget, self.budget_label):
            widget.setVisible(streetview)
        self._estimate_timer.start()

    def _sampling_changed(self) -> None:
        self.address_file.setEnabled(self.addresses.isChecked())
        self.browse.setEnabled(self.addresses.isChecked())

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Address book", "", "Addresses (*.csv *.geojson *.json);;All files (*)")
        if path:
            self.address_file.setText(path)
            self.addresses.setChecked(True)

    def config(self) -> DownloadConfig:
        """The download the form describes (the key is only in memory, in this object)."""
        address = self.address_file.text().strip() if self.addresses.isChecked() else ""
        config = DownloadConfig(provider=self.provider_id, per_city=self.per_city.value() or None,
                                workers=self.workers.value(), addresses=Path(address) if address else None,
                                key=self.key.text().strip() or None, price_per_1000=self.price.value(),
                                max_image_requests=self.budget.value() or None)
        if self.plan is not None:
            config = self.plan.configure(replace(config, addresses=None))
        return replace(config, **self.config_overrides)

    def use_plan(self, plan: DownloadPlan | None, estimate: CostEstimate | None = None) -> None:
        """Download `plan` (None: back to the form's own cities and counts); with its `estimate` (the
        advisor's, made in its worker under this form's settings) at once: the user still confirms a cost
        as for any download."""
        self.plan = plan
        if plan is not None:
            self.provider.setCurrentIndex(max(0, self.provider.findData(plan.provider)))
            self.random.setChecked(True)
            self.plan_label.setText("Plan: " + ", ".join(f"{self.context.project.city(c.slug).name} +{c.new}"
                                                         for c in plan.cities))
        self.plan_label.setVisible(plan is not None)
        self.clear_plan.setVisible(plan is not None)
        for widget in (self.per_city, self.addresses):
            widget.setEnabled(plan is None)
        if estimate is not None:
            self._show_estimate(self._estimate_seq, estimate)
            self.start()
        else:
            self._estimate_timer.start()

    # ------------------------------------------------------------------ estimate
    def _run_estimate(self) -> None:
        if not self.context.project.cities():
            self.estimate.setText("Add cities first.")
            self._estimate = None
            return
        self._estimate_seq += 1
        seq = self._estimate_seq
        start_job(self, estimate_job, self.context.project, self.config(),
                  on_finished=lambda est: self._show_estimate(seq, est),
                  on_failed=lambda message: self.estimate.setText(message))

    def _show_estimate(self, seq: int, estimate: CostEstimate) -> None:
        if seq != self._estimate_seq:
            return
        self._estimate = estimate
        count = sum(1 for p in estimate.plans if p.needed)
        cities = f"{count} cit{'y' if count == 1 else 'ies'}"
        if estimate.images == 0:
            text = "Every city has reached its target from this provider."
        elif estimate.billed:
            text = (f"{estimate.images:,} images for {cities}: ${estimate.cost:,.2f} at most "
                    f"({estimate.max_requests:,} billed requests, up to {estimate.refusal_allowance:,} of them "
                    "for refused placeholders, which Google bills too). It stops before costing more.")
        else:
            text = f"{estimate.images:,} images for {cities} (free with a Mapillary token)."
        if estimate.billed and estimate.spent_requests:
            text += (f" This job already spent about ${estimate.spent:,.2f} ({estimate.spent_requests:,} "
                     f"billed requests, {estimate.spent_refused:,} refused) in earlier runs.")
        self.estimate.setText(text)
        if self.job is None or not self.job.running:
            self._fill_table(estimate)

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
        self.job = start_job(self, run_download, self.context.project, config, title="Download", workspace="Dataset",
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
