"""The Download panel: fill the project's cities from Street View or Mapillary through `core.acquisition`.

Nothing here talks to a network or a keyring on the UI thread: the cost estimate, the download, and
storing a key in the OS keyring all run as jobs (`workers.start_job`). Keys are masked, never logged,
and kept only where the user asks: the OS keyring (default) or, when explicitly chosen, QSettings.
The advisor (`advisor_panel.AdvisorPanel`, "What to collect next") hands its plan here: while a plan is
set, the estimate and the download are the plan's (its cities, counts and sub-areas), until it finishes
or is cleared. The form, the plan and the estimate are here; the run and its progress in `download_run`.
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
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from core.acquisition.jobs import DEFAULT_PRICE_PER_1000, CostEstimate, DownloadConfig, estimate_cost
from core.acquisition.plan import DownloadPlan
from core.data.project import Project
from core.events import Control, EventCallback

from ...context import AppContext
from ...settings import DOWNLOAD_PER_CITY, DOWNLOAD_PROVIDER, DOWNLOAD_SECRET
from ...workers import JobHandle, start_job
from .advisor_panel import AdvisorPanel
from .download_run import PROVIDERS, SECRETS, DownloadRun

LOG_LINES = 500
#: (header, tooltip): short headers, so the table fits the Dataset's left pane at 1024 px.
_COLUMNS = (("City", ""), ("Progress", "images from this provider / its target (the Cities tab counts every source)"), ("Saved", "images saved"),
            ("Empty", "places without imagery (no coverage; Street View still bills them)"),
            ("Errors", "requests that failed"))


def estimate_job(project: Project, config: DownloadConfig, *, on_event: EventCallback,
                 control: Control) -> CostEstimate:
    """Job wrapper: the cost estimate reads the database, so it stays off the UI thread."""
    return estimate_cost(project, config)


class DownloadPanel(DownloadRun, QWidget):
    """The download form (provider, key, counts, sampling, price, budget), the advisor's plan and the
    cost estimate; starting and following the download is `download_run.DownloadRun`'s."""

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
