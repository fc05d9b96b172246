"""What the Challenge workspace's panels say: the reveal of a round, the end-of-game table, the past games
and how the points were scaled, as HTML built from `core.evaluation.challenge`'s rounds and summaries with
every user text (city and player names, errors) escaped. Its own module so `challenge_view` keeps to the
game's flow and the wording can be read and changed in one place."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.geo import describe_scale

if TYPE_CHECKING:
    from core.evaluation.challenge import ChallengeSummary, Round


def escape(text: object) -> str:
    return html.escape(str(text))


def scale_text(scale_km: float) -> str:
    """How the points were scaled (GeoGuessr scales its formula to the map's size), as a sentence."""
    line = describe_scale(scale_km)
    return line[0].upper() + line[1:] + "."


def reveal_html(played: Round, city_label: Callable[[str], str], you_text: str, scale_km: float) -> str:
    """A played round: the truth, the player's guess (`you_text`) and the model's, with their distances
    and points, and the scale; `city_label` names a city slug as the app writes it."""
    you, model = played.human, played.model
    lines = [
        f"<b>The photo is from {escape(city_label(played.true_city))}.</b>",
        f"You: {escape(you_text)} — {you.distance_km:,.0f} km, <b>{you.points:,}</b> points"
        + (" ✓" if you.correct else ""),
        f"Model: {escape(city_label(model.city))} ({(model.confidence or 0):.0%}) — "
        f"{model.distance_km:,.0f} km, <b>{model.points:,}</b> points" + (" ✓" if model.correct else ""),
        f"<span style='color:#666'>{escape(scale_text(scale_km))}</span>",
    ]
    return "<br><br>".join(lines)


def result_html(summary: ChallengeSummary) -> str:
    """The end of a game: who won, and the player's and the model's points, accuracy, distance and time."""
    h, m = summary.human, summary.model_side
    verdict = {"human": "You win!", "model": "The model wins.", "tie": "A tie."}.get(summary.winner or "", "")
    rows = [f"<h3>{verdict}</h3>", "<table cellpadding='3'><tr><th></th><th>You</th><th>Model</th></tr>"]
    if h and m:
        for label, a, b in (("Points", f"{h.total_points:,}", f"{m.total_points:,}"),
                            ("Correct city", f"{h.accuracy:.0%}", f"{m.accuracy:.0%}"),
                            ("Median distance", f"{h.median_km:,.0f} km", f"{m.median_km:,.0f} km"),
                            ("Mean time", f"{h.mean_seconds:.1f} s" if h.mean_seconds is not None else "–", "–")):
            rows.append(f"<tr><td>{label}</td><td>{a}</td><td>{b}</td></tr>")
    rows.append("</table>")
    rows.append(f"<p style='color:#666'>{escape(scale_text(summary.scale_km))}</p>")
    return "".join(rows)


def past_games_html(games: list[ChallengeSummary]) -> str:
    """The scoreboard of `core.evaluation.challenge.scoreboard` summaries as an HTML table ("" when none)."""
    if not games:
        return ""
    rows = ["<h4>Past games</h4><table cellpadding='2'>"]
    for g in games:
        you = g.human.total_points if g.human else 0
        model = g.model_side.total_points if g.model_side else 0
        who = escape(g.player or "you")
        rows.append(f"<tr><td>{escape(g.created_at[:16])}</td><td>{who} {you:,}</td>"
                    f"<td>model {model:,}</td><td>{g.rounds_played}/{g.rounds_total}</td></tr>")
    return "".join(rows) + "</table>"
