"""Issue 15 item 12: attacker-controlled strings (a CSV city cell, a file name, a server answer) are shown
as plain text in the desktop app: no rendered markup, no clickable links."""

from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QTextDocument
from PySide6.QtWidgets import QMessageBox

from core.data.project import Project
from geospottr_gui.plaintext import plain_tooltip
from tests.gui.dataset_support import make_window

from .hostile import jpeg

LINK = '<a href="https://evil.example/">Your project is damaged: click here</a>'


def _capture_boxes(monkeypatch) -> list[QMessageBox]:
    shown: list[QMessageBox] = []

    def fake_exec(box):
        shown.append(box)
        return QMessageBox.StandardButton.Ok
    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return shown


def test_an_html_city_cell_in_a_dropped_csv_shows_as_plain_text(qtbot, tmp_path, monkeypatch):
    shown = _capture_boxes(monkeypatch)
    project = Project.init(tmp_path / "p")
    (tmp_path / "a.jpg").write_bytes(jpeg((40, 30)))
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(f"path,city\na.jpg,\"{LINK}\"\n")
    window = make_window(qtbot, project, tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(csv_file))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    box = shown[-1]
    assert box.textFormat() == Qt.TextFormat.PlainText and "<a href=" in box.text() and "click here</a>" in box.text()


def test_tooltips_show_file_names_literally():
    for name in ("<b>x</b>.jpg", LINK, "a & b <i>c</i>\nsecond line"):
        doc = QTextDocument()
        doc.setHtml(plain_tooltip(name))
        assert doc.toPlainText().replace("\u2029", "\n") == name


def test_no_message_box_in_the_app_guesses_rich_text():
    """Every warning goes through `plaintext.warn`: the static QMessageBox helpers render markup."""
    root = Path(__file__).resolve().parents[2] / "geospottr_gui"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "QMessageBox"
                    and node.attr in ("warning", "critical", "information", "about")):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


MARKUP_NAME = '<img src="x"><a href="https://evil.example/">Rijeka</a>'


def _legend_texts(legend) -> list[str]:
    """What each legend label shows (its rendered text, markup applied)."""
    return [label.item.toPlainText() for _sample, label in legend.items]


def test_plot_legends_show_a_city_or_run_named_with_markup_as_typed(qtbot):
    """pyqtgraph renders every legend label as HTML: a learning-curve city and an overlaid run named with
    markup show the markup, not a link or an image."""
    from core.evaluation.curves import CurvePoint, Interval, LearningCurve
    from geospottr_gui.views.evaluate.learning_curve import LearningCurvePlot
    from geospottr_gui.views.widgets.plots import TrainingPlots
    from tests.gui.test_plots import run_series

    f1 = Interval(0.5, 0.4, 0.6)
    points = [CurvePoint(share, 40 * share, f1, {"rijeka": f1, "split": f1}, {"rijeka": 20 * share, "split": 20 * share})
              for share in (0.5, 1.0)]
    curve = LearningCurve("baseline", 5, ["rijeka", "split"], {"rijeka": MARKUP_NAME, "split": "Split"}, 40,
                          {"rijeka": 20, "split": 20}, points)
    plot = LearningCurvePlot()
    qtbot.addWidget(plot)
    plot.show_curve(curve)
    assert MARKUP_NAME in _legend_texts(plot.legend)

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.set_overlays({"20261207-101010-baseline": run_series(MARKUP_NAME, 2)})
    assert any(MARKUP_NAME[:20] in text for text in _legend_texts(plots.legend)), _legend_texts(plots.legend)
