"""Scoring → Learn from my labels… in the window: a turn from the curator's labels, the Review
next queue with the curation keys, a second turn, and the history of both."""

from __future__ import annotations

import numpy as np

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.labels.project_scoring import project_labels
from fiqa_gui.core.learning.review_next import learning_history, review_queue
from fiqa_gui.core.store import Project


def _label_two_clusters(folder) -> np.ndarray:
    """Tiers by the run's quality terciles for every image of the two largest clusters."""
    with Project.open(folder) as p:
        labels = project_labels(p).labels
        q = np.asarray(p.scores(p.runs()[-1].id)["quality"], dtype=float)
        picked = np.argsort(-np.bincount(labels))[:2]
        members = np.flatnonzero(np.isin(labels, picked))
        lo, hi = np.nanquantile(q, [1 / 3, 2 / 3])
        for tier in ("high", "mid", "low"):
            sel = members[(q[members] >= hi) if tier == "high" else
                          (q[members] < lo) if tier == "low" else
                          (q[members] >= lo) & (q[members] < hi)]
            if len(sel):
                cur.set_tier(p, sel, tier).apply(p)
    return picked


def test_learn_review_next_and_learn_again(qtbot, window_factory, sample_project, tmp_path):
    from fiqa_gui.gui.app import save_window_png
    from fiqa_gui.gui.learning_panel import LearningDialog

    _label_two_clusters(sample_project)
    w = window_factory(sample_project)
    action = next(a for a in w.menus["Scoring"].actions() if "Learn from my labels" in a.text())
    action.trigger()
    dialog = w.learning_dialog
    assert isinstance(dialog, LearningDialog) and dialog.isVisible()
    assert "No learn turn yet" in dialog.status.text() and dialog.queue.rowCount() == 0

    # turn 1: a background job, then the window shows the learn run ranked by Learned
    dialog.learn_button.click()
    qtbot.waitUntil(lambda: w.review is not None and w.review.run is not None
                    and w.review.run.kind == "learn" and not w.jobs.busy, timeout=120000)
    qtbot.waitUntil(lambda: dialog.history.rowCount() == 1, timeout=20000)
    assert w.gallery.by == "learned"
    with Project.open(sample_project, read_only=True) as p:
        history = learning_history(p)
        queue = review_queue(p)
    assert len(history) == 1 and history[0]["run_id"] == w.review.run.id
    assert f"run #{history[0]['run_id']}" in dialog.status.text()
    assert f"{history[0]['labels']:,} labels" in dialog.status.text()
    # the queue shown is the core's, in its order, at most three per cluster
    assert dialog.queue.rowCount() == len(queue) > 0
    shown = [dialog.queue.item(r, 1).text() for r in range(dialog.queue.rowCount())]
    assert shown == [w.review.dataset.paths[it.image_id] for it in queue]
    clusters = [int(w.review.labels[it.image_id]) for it in queue]
    assert max(np.bincount(clusters)) <= 3
    # the history plot: the held-out ERC-AUC of turn 1, or (too few impostor pairs in the
    # sample for FMR 1e-3) its validation error, which the status line explains
    auc = (history[0]["erc"] or {}).get("auc") or {}
    name, value = ("learned", auc["learned"]) if "learned" in auc else \
        ("validation_mae", history[0]["validation_mae"])
    if name == "validation_mae":
        assert "no held-out ERC" in dialog.status.text()
    x, y = dialog.plot.curves[name].getData()
    assert x.tolist() == [1.0] and y[0] == value

    # Ctrl+J: the first queue image is current in its cluster; "1" labels it there
    assert w.review_next_action.shortcut().toString() == "Ctrl+J"
    w.review_next_action.trigger()
    first = queue[0].image_id
    qtbot.waitUntil(lambda: w.gallery.current_id() == first, timeout=10000)
    assert w.gallery.cluster_id == int(w.review.labels[first])
    w.gallery.view.setFocus()
    w.actions_by_name["tier_high"].trigger()
    with Project.open(sample_project, read_only=True) as p:
        tier = p.conn.execute("SELECT tier FROM annotations WHERE image_id = ?",
                              (first,)).fetchone()
    assert tier is not None and tier[0] == "high"
    w.review_next_action.trigger()
    if len(queue) > 1:
        qtbot.waitUntil(lambda: w.gallery.current_id() == queue[1].image_id, timeout=10000)

    # turn 2 learns from one label more; the history shows both turns
    dialog.learn_button.click()
    qtbot.waitUntil(lambda: dialog.history.rowCount() == 2 and not w.jobs.busy,
                    timeout=120000)
    with Project.open(sample_project, read_only=True) as p:
        history = learning_history(p)
        assert first not in [it.image_id for it in review_queue(p)]  # labelled: not asked
    assert len(history) == 2 and history[1]["labels"] == history[0]["labels"] + 1
    assert dialog.history.item(1, 2).text() == f"{history[1]['labels']:,}"
    # the seed-set dashboard plots the same history over the turns
    board = w.seeds.show_dashboard()
    assert board.history_plot.isVisible()
    (x, y), = [c.getData() for c in board.history_plot.curves.values()][:1]
    assert x.tolist() == [1.0, 2.0]
    save_window_png(dialog, tmp_path / "learning.png")
    assert (tmp_path / "learning.png").stat().st_size > 10000


def test_learn_with_too_few_labels_says_what_to_do(qtbot, window_factory, sample_project):
    from fiqa_gui.gui.learning_panel import learn_now

    w = window_factory(sample_project)
    assert not w.seeds.show_dashboard().history_plot.isVisible()  # no learn turn yet
    assert learn_now(w)
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=60000)
    title, text = w.jobs.last_message
    assert "too few curator labels" in text and "import-labels" in text
    assert "Traceback" not in text
    assert w.review.run.kind == "score"  # nothing was stored
