"""The Challenge workspace: the human-vs-model game on the project's test split (`core.evaluation.challenge`).

A game is drawn in the background (the model is loaded and its guesses computed then, once). Each round
shows a photo; the player picks a city from a searchable list, clicks a city on the map, or clicks any
point of the map; the reveal shows the truth, both guesses, their distances and GeoGuessr points on a
map, and the running scoreboard. Every answer is stored through `Challenge.guess_city/guess_point`, so
games survive a restart and the terminal game shares them; the end shows the summary and past games.
What the panels say (HTML from the rounds and summaries) is `challenge_texts`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.data.catalog import fold as _fold
from core.errors import GeoSpottrError

from ...context import AppContext
from ...model_service import ModelService, choose_model_file
from ...settings import CHALLENGE_PLAYER, CHALLENGE_ROUNDS
from ...workers import JobHandle, start_job, stop_jobs
from ..widgets.elided import ElidedLabel
from ..widgets.layouts import column
from ..widgets.map_view import MapView, assets_dir, online_tiles, pages_dir
from ..widgets.photo import PhotoLabel, preview_qimage
from .challenge_texts import escape, past_games_html, result_html, reveal_html

#: How many past games the summary panel lists.
PAST_GAMES = 8


def start_game(models: ModelService, project, model_path: str, rounds: int, player: str, seed: int | None = None, *,
               on_event, control) -> int:
    """Worker job: the app's shared model (loaded once, `ModelService`), draw the rounds and compute the
    model's guesses; returns the game id."""
    from core.evaluation.challenge import start_challenge

    predictor = models.get(model_path)
    control.checkpoint()
    assets_dir()
    return start_challenge(project, predictor, rounds=rounds, seed=seed, player=player).id


def past_games(project, *, on_event, control) -> list:
    """Worker job: the latest games for the scoreboard (reads every played round: not on the UI thread)."""
    from core.evaluation.challenge import scoreboard

    return scoreboard(project, limit=PAST_GAMES)


class ChallengeView(QWidget):
    """See the module docstring."""

    game_started = Signal(int)        # challenge id
    round_shown = Signal(int)         # round number
    revealed = Signal(object)         # core.evaluation.challenge.Round, played
    game_over = Signal(object)        # core.evaluation.challenge.ChallengeSummary

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.challenge = None
        self.round = None
        self.model_path: str | None = None
        self._job: JobHandle | None = None
        self._pending: tuple | None = None     # ("city", slug) | ("point", lat, lon)
        self._started_at = 0.0
        self._pick_page: Path | None = None
        self._build()
        context.model_changed.connect(self.set_model)
        context.project_changed.connect(lambda _: self._reset())
        self.set_model(context.model_path or "")

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        settings = self.context.settings
        self.rounds = QSpinBox()
        self.rounds.setRange(1, 100)
        self.rounds.setValue(CHALLENGE_ROUNDS.get(settings))
        self.rounds.setSuffix(" rounds")
        self.player = QLineEdit(CHALLENGE_PLAYER.get(settings))
        self.player.setPlaceholderText("your name")
        self.player.setMaximumWidth(160)
        # Elided (whole in its tooltip): a long run name beside the score must not widen the window.
        self.model_label = ElidedLabel("No model chosen", min_chars=12)
        choose = QPushButton("Choose model…")
        choose.clicked.connect(self._choose_model)
        self.start_button = QPushButton("New game")
        self.start_button.clicked.connect(lambda: self.new_game())
        self.score = QLabel("")
        self.score.setStyleSheet("font-weight: 600")
        bar = QHBoxLayout()
        for w in (self.rounds, self.player, self.model_label, choose, self.start_button):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.score)

        self.photo = PhotoLabel("Start a game: the model and you guess where test photos were taken.")
        self.photo.setWordWrap(True)
        self.photo.setTextFormat(Qt.TextFormat.PlainText)
        self.photo.setMinimumSize(320, 240)
        self.photo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.map = MapView(idle="Start a game: the cities to guess from appear on this map.")
        self.map.message.connect(self._on_map_message)
        self.map.load_failed.connect(self.context.status)

        # pick panel
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search a city…")
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._pick_first_visible)
        self.cities = QListWidget()
        self.cities.currentItemChanged.connect(self._list_pick)
        # Enter: pick the first city the search shows, then guess; on the reveal, the next round.
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            QShortcut(QKeySequence(key), self, activated=self.enter,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cities.itemActivated.connect(lambda _item: self.submit())  # double-click or Enter on a city
        self.choice = QLabel("Pick a city in the list or on the map, or click any point of the map.")
        self.choice.setTextFormat(Qt.TextFormat.RichText)  # every inserted text is escaped
        self.choice.setWordWrap(True)
        self.guess_button = QPushButton("Guess")
        self.guess_button.setEnabled(False)
        self.guess_button.clicked.connect(self.submit)
        pick = column(self.search, (self.cities, 1), self.choice, self.guess_button)
        # reveal panel
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.next_button = QPushButton("Next round")
        self.next_button.clicked.connect(self.next_round)
        reveal = column((self.result, 1), self.next_button)
        # summary panel
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.panel = QStackedWidget()
        for w in (pick, reveal, self.summary):
            self.panel.addWidget(w)
        self.panel.setMaximumWidth(340)

        right = QSplitter(Qt.Orientation.Horizontal)
        right.addWidget(self.map)
        right.addWidget(self.panel)
        right.setSizes([560, 300])
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.photo)
        main.addWidget(right)
        main.setSizes([480, 800])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(main, 1)
        self._reset()

    def _reset(self) -> None:
        self.challenge = self.round = None
        self.score.setText("")
        self.panel.setCurrentIndex(2)
        self.summary.setText("")
        project = self.context.project
        start_job(self, past_games, project,
                  on_finished=lambda games: self._show_past_games(project, games))

    def _show_past_games(self, project, games: list) -> None:
        """Fill the idle summary panel (unless a game or a message has taken it meanwhile)."""
        if project is self.context.project and self.challenge is None and not self.summary.text():
            self.summary.setText(past_games_html(games))

    # ------------------------------------------------------------------ model and start
    def set_model(self, path: str) -> None:
        """Play against the bundle at `path` ("": none yet)."""
        self.model_path = str(path) or None
        self.model_label.setText(f"Model: {self.context.model_label(path)}" if path else "No model chosen")

    def _choose_model(self) -> None:
        path = choose_model_file(self, self.context.project.runs_dir)
        if path:
            self.context.set_model(path)  # every workspace (and About) follows; set_model hears it

    def new_game(self, seed: int | None = None) -> None:
        if self._job is not None:
            return
        if not self.model_path:
            self.context.status.emit("choose a model first (Choose model…)")
            self.summary.setText("Choose a model bundle first (Choose model…), or train one.")
            return
        CHALLENGE_ROUNDS.set(self.context.settings, self.rounds.value())
        CHALLENGE_PLAYER.set(self.context.settings, self.player.text())
        self.start_button.setEnabled(False)
        self.summary.setText("Drawing photos and letting the model guess…")
        self.panel.setCurrentIndex(2)
        self._job = start_job(self, start_game, self.context.models, self.context.project, self.model_path,
                              self.rounds.value(),
                              self.player.text().strip(), seed, on_finished=self._game_ready,
                              on_failed=self._start_failed, needs_torch=True)
        self._job.done.connect(self._job_done)

    def _job_done(self) -> None:
        self._job = None
        self.start_button.setEnabled(True)

    def _start_failed(self, message: str) -> None:
        self.summary.setText(f"Could not start a game: {escape(message)}")
        self.context.status.emit(message)

    def _game_ready(self, challenge_id: int) -> None:
        from core.evaluation.challenge import Challenge
        from core.maps import pick_map

        self.challenge = Challenge(self.context.project, challenge_id)
        cities = self.context.project.cities()
        self.cities.clear()
        for c in sorted(cities, key=lambda c: _fold(c.name)):
            item = QListWidgetItem(c.label)
            item.setData(Qt.ItemDataRole.UserRole, c.slug)
            self.cities.addItem(item)
        self._pick_page = pick_map(cities, pages_dir() / f"pick-{id(self)}.html", assets_dir(),
                                   online_tiles(self.context.settings))
        self.game_started.emit(challenge_id)
        self.next_round()

    # ------------------------------------------------------------------ rounds
    def next_round(self) -> None:
        if self.challenge is None:
            return
        self.round = self.challenge.next_round()
        if self.round is None:
            self._finish()
            return
        self._pending = None
        self.guess_button.setEnabled(False)
        self.choice.setText("Pick a city in the list or on the map, or click any point of the map.")
        self.search.clear()
        self.cities.blockSignals(True)
        self.cities.clearSelection()
        self.cities.setCurrentItem(None)
        self.cities.blockSignals(False)
        self._show_photo(self.round.image_path)
        self.map.show_page(self._pick_page)
        self.panel.setCurrentIndex(0)
        self._update_score()
        self._started_at = time.monotonic()
        self.search.setFocus()
        self.round_shown.emit(self.round.number)

    def _show_photo(self, path: Path) -> None:
        from core.imaging import ImageError

        try:
            self.photo.show_image(preview_qimage(path, 1280))
        except (ImageError, OSError) as exc:
            self.photo.show_text(f"(photo unreadable: {exc})")

    # ------------------------------------------------------------------ picking
    def _filter(self, text: str) -> None:
        key = _fold(text.strip())
        for i in range(self.cities.count()):
            item = self.cities.item(i)
            item.setHidden(bool(key) and key not in _fold(item.text()))

    def enter(self) -> None:
        """The Enter key: in the search box it picks the first city shown (a second Enter guesses it);
        elsewhere it guesses the pending pick; after a reveal it goes on to the next round."""
        if self.panel.currentIndex() == 1:
            self.next_round()
            return
        if self.panel.currentIndex() != 0:
            return
        first = next((self.cities.item(i) for i in range(self.cities.count()) if not self.cities.item(i).isHidden()),
                     None)
        picked = self._pending[1] if self._pending and self._pending[0] == "city" else None
        if self.search.hasFocus() and self.search.text().strip() and first is not None \
                and first.data(Qt.ItemDataRole.UserRole) != picked:
            self._pick_first_visible()
        elif self._pending is not None:
            self.submit()

    def _pick_first_visible(self) -> None:
        for i in range(self.cities.count()):
            if not self.cities.item(i).isHidden():
                self.cities.setCurrentRow(i)
                return

    def _list_pick(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None or self.round is None or self.round.played:
            return
        slug = item.data(Qt.ItemDataRole.UserRole)
        self._pending = ("city", slug)
        self.choice.setText(f"Your guess: <b>{escape(item.text())}</b>")
        self.guess_button.setEnabled(True)
        self.map.run_js(f"window.geospottrSelect && window.geospottrSelect({json.dumps(slug)})")

    def _on_map_message(self, message: dict) -> None:
        if self.round is None or self.round.played:
            return
        if message.get("type") == "pick":
            self.select_city(str(message.get("slug", "")))
        elif message.get("type") == "click":
            try:
                lat, lon = float(message["lat"]), float(message["lon"])
            except (KeyError, TypeError, ValueError):
                return
            self.cities.blockSignals(True)
            self.cities.setCurrentItem(None)
            self.cities.blockSignals(False)
            self._pending = ("point", lat, lon)
            self.choice.setText(f"Your guess: the point {lat:.3f}, {lon:.3f}")
            self.guess_button.setEnabled(True)

    def select_city(self, slug: str) -> None:
        """Select a city as the guess (from the list or the map)."""
        for i in range(self.cities.count()):
            if self.cities.item(i).data(Qt.ItemDataRole.UserRole) == slug:
                self.cities.setCurrentRow(i)
                return

    def submit(self) -> None:
        """Record the pending guess and reveal the round."""
        if self.round is None or self._pending is None or self.round.played:
            return
        seconds = round(time.monotonic() - self._started_at, 2)
        try:
            if self._pending[0] == "city":
                played = self.challenge.guess_city(self.round.number, self._pending[1], seconds)
            else:
                played = self.challenge.guess_point(self.round.number, self._pending[1], self._pending[2], seconds)
        except GeoSpottrError as exc:
            self.context.status.emit(str(exc))
            return
        self.round = played
        self._reveal(played)

    def _city_label(self, slug: str) -> str:
        """"Osijek, HR" for a city of the project (the slug only if it has gone since)."""
        found = self.context.project.find_city(slug)
        return found.label if found else slug

    def _you_text(self, played) -> str:
        you = played.human
        return self._city_label(you.city) if you.kind == "city" else f"a point near {self._city_label(you.city)}"

    def _reveal_points(self, played) -> list:
        """The truth and both guesses of a played round, labelled, for the reveal and the recap maps.

        The guesses' labels are short (distance and points; the panel beside names the cities): two of them
        side by side must fit a narrow map when both guessed the same place.
        """
        from core.maps import RevealPoint

        you, model = played.human, played.model
        return [RevealPoint("truth", played.true_lat, played.true_lon, self._city_label(played.true_city)),
                RevealPoint("human", you.lat, you.lon, f"You · {you.distance_km:,.0f} km · {you.points:,} pts"),
                RevealPoint("model", model.lat, model.lon,
                            f"Model · {model.distance_km:,.0f} km · {model.points:,} pts")]

    def _reveal(self, played) -> None:
        from core.maps import reveal_map

        self.result.setText(reveal_html(played, self._city_label, self._you_text(played), self.challenge.scale_km))
        last = played.number == len(self.challenge.rounds())
        self.next_button.setText("See the result" if last else "Next round")
        page = reveal_map(self._reveal_points(played), pages_dir() / f"reveal-{id(self)}.html", assets_dir(),
                          online_tiles(self.context.settings))
        self.map.show_page(page)
        self.panel.setCurrentIndex(1)
        self._update_score()
        self.revealed.emit(played)

    def _update_score(self) -> None:
        if self.challenge is None:
            return
        s = self.challenge.summary()
        you = s.human.total_points if s.human else 0
        model = s.model_side.total_points if s.model_side else 0
        self.score.setText(f"Round {min(s.rounds_played + (0 if self.round and self.round.played else 1), s.rounds_total)}"
                           f"/{s.rounds_total}    You {you:,} — Model {model:,}")

    def _finish(self) -> None:
        summary = self.challenge.summary()
        from core.evaluation.challenge import scoreboard  # imported by the game's job already
        from core.maps import recap_map

        self.summary.setText(result_html(summary) + past_games_html(scoreboard(self.context.project, limit=PAST_GAMES)))
        # The recap: every round's truth and both guesses on one map.
        played = [r for r in self.challenge.rounds() if r.played]
        page = recap_map([self._reveal_points(r) for r in played], pages_dir() / f"recap-{id(self)}.html",
                         assets_dir(), online_tiles(self.context.settings))
        self.map.show_page(page)
        self.panel.setCurrentIndex(2)
        self.round = None
        self.game_over.emit(summary)

    def shutdown(self) -> None:
        stop_jobs(self)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
