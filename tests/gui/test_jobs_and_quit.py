"""Long jobs are visible from every workspace (status bar, click to go there, a word when they end), and
quitting asks before stopping one, then stops it cleanly."""

from __future__ import annotations

import threading
import time

from PySide6.QtWidgets import QMessageBox

from geospottr_gui.main_window import MainWindow
from geospottr_gui.workers import job_board, start_job
from tests.gui.conftest import context_for

VIEWS = [("Dataset", "geospottr_gui.views.dataset.dataset_view", "DatasetView"),
         ("Evaluate", "geospottr_gui.views.evaluate.evaluate_view", "EvaluateView")]


def test_an_evaluation_shows_in_the_status_bar_leads_to_its_workspace_and_says_when_done(
        qtbot, tmp_path, tiny_project, random_bundle):
    window = MainWindow(context_for(tiny_project, tmp_path), VIEWS)
    qtbot.addWidget(window)
    window.show()
    window.context.set_model(str(random_bundle))
    evaluate = window.workspace("Evaluate")
    assert not window.jobs.isVisible()
    with qtbot.waitSignal(job_board().ended, timeout=60000):
        evaluate.run_button.click()
        window.show_workspace("Dataset")  # the user goes elsewhere; the job stays in sight
        assert window.jobs.isVisible() and window.jobs.button.text().startswith("Evaluation")
        window.jobs.button.click()
        assert window.stack.currentWidget() is evaluate
    assert not window.jobs.isVisible()
    assert window.statusBar().currentMessage() == "Evaluation finished"
    window.close()
    qtbot.wait(50)


def _busy(*, on_event, control) -> str:
    """A job that runs until it is cancelled, like a training run between checkpoints."""
    while True:
        control.checkpoint()
        time.sleep(0.01)


def test_quitting_asks_before_stopping_a_running_job_and_waits_for_it(qtbot, tmp_path, tiny_project, monkeypatch):
    window = MainWindow(context_for(tiny_project, tmp_path), VIEWS[:1])
    qtbot.addWidget(window)
    window.show()
    ended = []
    job = start_job(window, _busy, title="Training", workspace="Train", keeps_work=True,
                    on_cancelled=lambda: ended.append(True))
    asked = []
    answer = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args[2]) or answer)
    window.close()
    assert asked and "Training still running" in asked[0]
    assert window.isVisible() and job.running  # "No": nothing stops, the window stays
    answer = QMessageBox.StandardButton.Yes
    window.close()
    assert not window.isVisible() and not job.thread.isRunning()  # waited for before the window went
    qtbot.waitUntil(lambda: ended == [True], timeout=5000)  # it ended through its control, at a checkpoint


def test_quitting_leaves_behind_a_job_that_holds_no_work_instead_of_waiting_for_it(qtbot, tmp_path, tiny_project,
                                                                                    monkeypatch):
    """A map job busy inside a library call (t-SNE, a torch import) cannot stop at a checkpoint: quitting
    cancels it and goes, rather than hanging for as long as the call takes (it used to wait 30 s per job)."""
    window = MainWindow(context_for(tiny_project, tmp_path), VIEWS[:1])
    qtbot.addWidget(window)
    window.show()
    release = threading.Event()

    def stuck(*, on_event, control) -> None:
        release.wait(60)  # no checkpoint until the library call returns

    job = start_job(window, stuck, title="Embedding map", workspace="Dataset")
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    window.exits_process = True  # as the app does: it then ends the process itself (`app.exit_now`)
    started = time.monotonic()
    window.close()
    assert not window.isVisible() and job.thread.isRunning() and time.monotonic() - started < 10
    assert job.control.cancelled  # told to stop; it will at its next checkpoint
    release.set()
    assert job.wait(10000)
