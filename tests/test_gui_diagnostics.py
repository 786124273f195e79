"""Diagnostics in the review window (offscreen): flag icons and the stored explanations, the
flagged queue (filters, F), the SDD → Quality rank movement, and re-scoring with approved seeds
(a new run stored, shown, and summarised; runs switchable)."""

from __future__ import annotations

import html
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from fiqa_gui.core.review.clusters import image_flags  # noqa: E402
from fiqa_gui.core.review.codes import TIER_NONE  # noqa: E402
from fiqa_gui.core.review.score_columns import score_tiers  # noqa: E402
from fiqa_gui.core.store import Project  # noqa: E402
from fiqa_gui.gui.cluster_table import COL_FLAGS, COL_NAME, FLAGS_ROLE  # noqa: E402
from fiqa_gui.gui.flag_icons import FLAG_INFO  # noqa: E402
from fiqa_gui.gui.gallery_model import TILE_ROLE  # noqa: E402
from tests.conftest import SAMPLE_SIZES  # noqa: E402

SIZES = SAMPLE_SIZES


@pytest.fixture
def project(sample_project):
    return sample_project


@pytest.fixture
def window(window_factory):
    return window_factory


def _tile(w, image_id):
    m = w.gallery.model
    return m.data(m.index(m.row_of(image_id)), TILE_ROLE)


def _images_with(rv, flag):
    return [i for i, f in enumerate(rv.scores["flags"]) if flag in f]


def test_flag_icons_and_explanations_are_visible(qtbot, window, project):
    w = window(project)
    rv = w.review
    assert rv.scores is not None
    # the cluster list: an icon per flag, the stored explanation in the tooltip. The cluster:
    # one with a stored cluster-level explanation (the sample plants a consistency trap)
    with Project.open(project, read_only=True) as p:
        details = [d for d in p.flag_details(rv.run.id) if d["image_id"] is None]
    assert details, "the sample project plants a cluster-level flag"
    detail = next((d for d in details if d["flag"] == "consistency_trap"), details[0])
    flag, why = detail["flag"], detail["explanation"]
    c = rv.cluster_index_of(detail["cluster_id"])
    model = w.clusters.model
    row = int(model.row_of[c])
    flags, count = model.index(row, COL_FLAGS).data(FLAGS_ROLE)
    assert flags[0] == flag and count == rv.summaries.flagged[c]  # cluster flags come first
    tip = model.index(row, COL_FLAGS).data(Qt.ItemDataRole.ToolTipRole)
    assert FLAG_INFO[flag].title in tip and html.escape(why) in tip
    # ... and the icon is really painted in the Flags cell (its colour is on screen)
    w.clusters.select_cluster(c)
    table = w.clusters.table
    rect = table.visualRect(w.clusters.proxy.mapFromSource(model.index(row, COL_FLAGS)))
    img = table.viewport().grab(rect).toImage()
    colours = {img.pixelColor(x, y).name() for x in range(img.width())
               for y in range(img.height())}
    assert QColor(FLAG_INFO[flag].colour).name() in colours

    # a gallery tile of an identity suspect carries its icon; the inspector explains it
    suspect = _images_with(rv, "identity_suspect")[0]
    assert w.go_to_image(suspect)
    tile = _tile(w, suspect)
    assert "identity_suspect" in tile.flags
    tooltip = w.gallery.model.data(w.gallery.model.index(w.gallery.model.row_of(suspect)),
                                   Qt.ItemDataRole.ToolTipRole)
    assert "Identity suspect" in tooltip
    text = w.inspector.details.text()
    with Project.open(project, read_only=True) as p:
        mine = p.flag_details(rv.run.id, image_id=suspect)
    assert mine and all(html.escape(d["explanation"]) in text for d in mine)
    assert "Identity suspect" in text
    # the cluster's own flags are explained for any of its images
    assert w.go_to_image(int(rv.index.members(c)[0]))
    assert html.escape(why) in w.inspector.details.text()
    assert FLAG_INFO[flag].title in w.gallery.info.text()


def test_flagged_queue_filters_and_f_key(qtbot, window, project):
    w = window(project)
    rv = w.review
    panel = w.clusters
    panel.set_flag_filter("identity_suspect")
    shown = panel.shown_clusters()
    assert shown and all("identity_suspect" in rv.summaries.flags[c] for c in shown)
    panel.select_cluster(shown[0])
    view = w.gallery.view
    w.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    # F visits the cluster's suspects in gallery order, then the next suspect cluster
    order = w.gallery.shown_ids().tolist()
    want = [i for i in order if "identity_suspect" in rv.scores["flags"][i]]
    if "identity_suspect" in rv.scores["flags"][order[0]]:
        want = want[1:]  # the first image is current already
    visited = []
    for _ in want:
        qtbot.keyClick(view, Qt.Key.Key_F)
        visited.append(w.gallery.current_id())
    assert visited == want
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert w.gallery.cluster_id == shown[1]
    assert "identity_suspect" in rv.scores["flags"][w.gallery.current_id()]
    assert w.inspector.image_id == w.gallery.current_id()

    # any flag: the gallery's flag filter narrows the images, F stays inside them
    panel.set_flag_filter("__any__")
    present = {f for i in w.gallery.shown_ids() for f in image_flags(rv.scores["flags"][i])}
    flag = sorted(present - {"identity_suspect"} or present)[0]
    assert w.gallery.flag_combo.findData(flag) >= 0
    w.gallery.set_filters(flag=flag)
    ids = w.gallery.shown_ids()
    assert len(ids) and all(flag in rv.scores["flags"][i] for i in ids)
    w.gallery.view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F)  # F looks for the gallery's flag now
    assert flag in rv.scores["flags"][w.gallery.current_id()]
    w.gallery.clear_filters()


def test_rank_movement_from_sdd_to_quality(qtbot, window, project):
    from scipy.stats import spearmanr

    w = window(project)
    rv = w.review
    c = w.gallery.cluster_id
    members = rv.index.members(c)
    rho = spearmanr(rv.scores["sdd"][members], rv.scores["quality"][members])[0]
    shift = rv.rank_shift(c)
    assert shift.spearman == pytest.approx(rho)
    assert f"Spearman <b>{rho:.2f}</b>" in w.inspector.details.text()
    tip = w.clusters.model.index(int(w.clusters.model.row_of[c]), COL_NAME).data(
        Qt.ItemDataRole.ToolTipRole)
    assert f"Spearman {rho:.2f}" in tip
    # the biggest mover really moved that many places
    sdd_rank = list(rv.rank(c, "sdd")).index(shift.mover)
    q_rank = list(rv.rank(c, "quality")).index(shift.mover)
    assert sdd_rank - q_rank == shift.move


def test_computed_tier_comes_from_quality(qtbot, window, project):
    w = window(project)
    rv = w.review
    assert rv.tier_source == "quality"
    expected = score_tiers(rv.scores["quality"])
    ids = w.gallery.shown_ids()
    for by in ("quality", "sdd"):  # whatever the gallery is ranked by
        w.gallery.set_rank(by)
        for i in ids[:5]:
            tile = _tile(w, int(i))
            assert tile.tier == expected[i] and not tile.curated
    assert (rv.annotations.tier == TIER_NONE).all()


def test_rescore_with_approved_seeds_stores_shows_and_summarises(qtbot, window, project):
    w = window(project)
    rv = w.review
    base = rv.run.id
    view = w.gallery.view
    seeded = []
    for c in (0, 1):
        w.clusters.select_cluster(c)
        w.activateWindow()
        view.setFocus()
        qtbot.waitUntil(view.hasFocus, timeout=5000)
        ids = w.gallery.shown_ids()
        w.gallery.select_images(ids[-2:])  # the lowest by Quality: seeds change the order
        qtbot.keyClick(view, Qt.Key.Key_A)
        seeded += [int(i) for i in ids[-2:]]
    steps = w.controller.stack.count()
    assert w.rescore_action.isEnabled()
    with qtbot.waitSignal(w.project_opened, timeout=60000):
        w.rescore_action.trigger()
    assert w.jobs.last_message is None, w.jobs.last_message
    # stored: a new run of kind 'rescore' on top of the base run
    with Project.open(project, read_only=True) as p:
        runs = p.runs()
        new = runs[-1]
        assert new.kind == "rescore" and new.params["base_run"] == base
        q_new = p.scores(new.id)["quality"]
        q_old = p.scores(base)["quality"]
    assert not np.allclose(q_new, q_old, equal_nan=True)
    # shown: the window switched to the new run, and says what changed
    assert w.review.run.id == new.id
    np.testing.assert_array_equal(w.review.scores["quality"], q_new)
    dialog = w.rescore_dialog
    assert dialog is not None and dialog.isVisible()
    names = [dialog.tree.topLevelItem(k).text(0) for k in range(dialog.tree.topLevelItemCount())]
    assert {rv.summaries.names[0], rv.summaries.names[1]} <= set(names)
    first = dialog.tree.topLevelItem(names.index(rv.summaries.names[0]))
    assert first.text(1) == "2"  # seeds
    assert first.childCount() > 0 and first.child(0).text(3)[0] in "↑↓="
    assert f"run #{new.id}".lower() in dialog.header.text().lower()
    # a double-click on a mover shows it
    child = first.child(0)
    dialog.tree.itemDoubleClicked.emit(child, 0)
    assert w.gallery.current_id() == child.data(0, Qt.ItemDataRole.UserRole + 1)
    # the run selector lists both runs and switches back; the undo history is kept
    combo = w.gallery.run_combo
    assert combo.count() == 2 and combo.isEnabled()
    assert combo.currentData() == new.id
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        combo.activated.emit(combo.findData(base))
    assert w.review.run.id == base
    assert w.controller.stack.count() == steps
    assert all(w.review.annotations.of(i)["seed_state"] == "approved" for i in seeded)


def test_rescore_without_seeds_says_what_to_do(qtbot, window, project):
    w = window(project)
    with qtbot.waitSignal(w.jobs.finished, timeout=30000) as sig:
        w.rescore_with_seeds()
    assert sig.args[1] == "failed"
    assert "no approved seed images yet" in w.jobs.last_message[1]
    assert len(w.review.runs) == 1


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    from fiqa_gui.core.review.rank_shift import spearman

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(3, 30))
        a = rng.integers(0, 4, n).astype(float)  # many ties
        b = rng.normal(size=n)
        if np.ptp(a) == 0:
            assert np.isnan(spearman(a, b))
            continue
        assert spearman(a, b) == pytest.approx(spearmanr(a, b)[0], abs=1e-12)
