"""End-to-end tests of the review window on a small generated, scored project (offscreen)."""

from __future__ import annotations

import os
import sys
import time
import types

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QItemSelectionModel, Qt  # noqa: E402

from fiqa_gui.core.errors import UserInputError  # noqa: E402
from fiqa_gui.core.review.review_data import scoring_available  # noqa: E402
from fiqa_gui.core.review.score_columns import rank_cluster  # noqa: E402
from fiqa_gui.core.review.similarity import private_embeddings, run_similarity_params  # noqa: E402
from fiqa_gui.gui import main_window as main_window_module  # noqa: E402
from fiqa_gui.gui import project_jobs  # noqa: E402
from fiqa_gui.gui.gallery_model import TILE_ROLE  # noqa: E402
from fiqa_gui.gui.main_window import MainWindow  # noqa: E402
from fiqa_gui.gui.sample_data import build_sample_project, stand_in_scores  # noqa: E402
from fiqa_gui.gui.settings import AppSettings  # noqa: E402

SIZES = (30, 14, 12, 9, 6, 1)


def _fake_similarity_sets(embeddings, labels, index, *, seed, repeat=0, positives=24,
                          negatives=24, exact=False):
    """Stand-in for the scoring package's function while it is not installed."""
    x = np.asarray(embeddings, float)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng([seed, repeat, index])
    same = np.flatnonzero(labels == labels[index])
    same = same[same != index]
    other = np.flatnonzero(labels != labels[index])
    if not exact:
        same = same if len(same) <= positives else rng.choice(same, positives, replace=False)
        other = rng.choice(other, min(negatives, len(other)), replace=False)
    return x[same] @ x[index], x[other] @ x[index]


@pytest.fixture
def similarity_sets(monkeypatch):
    """The core's `similarity_sets` (a stand-in injected when scoring is not installed)."""
    try:
        from fiqa_gui.core.scoring.sdd import similarity_sets as real
        return real
    except ImportError:
        pkg = types.ModuleType("fiqa_gui.core.scoring")
        pkg.__path__ = []
        mod = types.ModuleType("fiqa_gui.core.scoring.sdd")
        mod.similarity_sets = _fake_similarity_sets
        monkeypatch.setitem(sys.modules, "fiqa_gui.core.scoring", pkg)
        monkeypatch.setitem(sys.modules, "fiqa_gui.core.scoring.sdd", mod)
        return _fake_similarity_sets


@pytest.fixture(scope="module")
def scored_project(tmp_path_factory):
    return build_sample_project(tmp_path_factory.mktemp("gui"), SIZES)


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Open a window on a project and wait until it shows it; closes it and checks that no
    worker thread is left running."""
    windows = []

    def make(project=None, settings_name="settings.ini"):
        w = MainWindow(AppSettings.at(tmp_path / settings_name), detect_device=False)
        w.jobs.show_dialogs = False
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        windows.append(w)
        if project is not None:
            with qtbot.waitSignal(w.project_opened, timeout=20000):
                assert w.open_project(project)
        return w

    yield make
    for w in windows:
        w.close()
        assert w.loader.pool.activeThreadCount() == 0
        assert w.jobs.pool.activeThreadCount() == 0
        assert w.review is None


def _click_cluster(qtbot, w, cluster_id):
    panel = w.clusters
    src = panel.model.index(int(panel.model.row_of[cluster_id]), 1)
    idx = panel.proxy.mapFromSource(src)
    rect = panel.table.visualRect(idx)
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.gallery.cluster_id == cluster_id


def test_cluster_selection_ranks_gallery(qtbot, make_window, scored_project):
    w = make_window(scored_project)
    rv = w.review
    assert w.stack.currentWidget() is w.splitter
    assert w.clusters.model.rowCount() == len(SIZES)
    _click_cluster(qtbot, w, 0)
    assert w.gallery.by == "quality"  # the anchored label is the default ranking
    expected = rank_cluster(rv.scores, rv.labels, 0, "quality", descending=True)
    assert w.gallery.shown_ids().tolist() == expected.tolist()
    assert w.gallery.model.rowCount() == SIZES[0]
    assert w.gallery.current_id() == expected[0]  # first image selected and inspected
    assert w.inspector.image_id == expected[0]

    # another score, ascending: still the core's ranking
    w.gallery.rank_combo.setCurrentIndex(w.gallery.rank_combo.findData("cr"))
    qtbot.mouseClick(w.gallery.order_button, Qt.MouseButton.LeftButton)
    assert not w.gallery.descending
    expected = rank_cluster(rv.scores, rv.labels, 0, "cr", descending=False)
    assert w.gallery.shown_ids().tolist() == expected.tolist()
    assert w.inspector.distribution.name == "CR"
    np.testing.assert_array_equal(w.inspector.distribution.values, rv.scores["cr"][expected])

    # keyboard: next cluster
    w.clusters.table.setFocus()
    qtbot.keyClick(w.clusters.table, Qt.Key.Key_Down)
    assert w.gallery.cluster_id == 1
    assert w.gallery.shown_ids().tolist() == rank_cluster(rv.scores, rv.labels, 1, "cr",
                                                         False).tolist()


def test_a_large_projects_plots_follow_when_the_curator_rests(qtbot, make_window,
                                                               scored_project, monkeypatch):
    """From REST_DELAY_MIN_IMAGES images a switch paints the tiles and leaves the plots to
    REST_DELAY_MS later: stepping past clusters never plots them, the one rested on is."""
    from fiqa_gui.gui import inspector

    monkeypatch.setattr(inspector, "REST_DELAY_MIN_IMAGES", 1)
    w = make_window(scored_project)
    rv = w.review
    _click_cluster(qtbot, w, 0)
    qtbot.waitUntil(lambda: not w.inspector.plots_pending, timeout=5000)
    by = w.gallery.by
    np.testing.assert_array_equal(w.inspector.distribution.values,
                                  np.asarray(rv.scores[by], float)[w.gallery.ranked_ids()])
    before = w.inspector.distribution.values.copy()
    plotted = []
    real_show_values = w.inspector.distribution.show_values
    monkeypatch.setattr(w.inspector.distribution, "show_values",
                        lambda values, *a, **k: (plotted.append(len(values)),
                                                 real_show_values(values, *a, **k)))
    _click_cluster(qtbot, w, 1)
    _click_cluster(qtbot, w, 2)
    assert w.gallery.shown_ids().tolist() == rank_cluster(rv.scores, rv.labels, 2, by,
                                                         True).tolist()
    assert w.inspector.plots_pending and plotted == []
    np.testing.assert_array_equal(w.inspector.distribution.values, before)
    qtbot.waitUntil(lambda: not w.inspector.plots_pending, timeout=5000)
    assert plotted == [SIZES[2]]  # cluster 1 was never plotted
    np.testing.assert_array_equal(w.inspector.distribution.values,
                                  np.asarray(rv.scores[by], float)[w.gallery.ranked_ids()])
    assert set(w.inspector.scatter.ids.tolist()) <= set(rv.index.members(2).tolist())


def test_a_large_projects_similarity_picture_waits_for_a_rest_without_scrolling(
        qtbot, make_window, scored_project, similarity_sets, monkeypatch):
    from fiqa_gui.gui import inspector

    monkeypatch.setattr(inspector, "REST_DELAY_MIN_IMAGES", 1)
    w = make_window(scored_project)
    plot = w.inspector.similarity
    _click_cluster(qtbot, w, 1)
    first = w.gallery.current_id()
    assert w.inspector.similarity_pending and plot.picture_of != first
    for _ in range(6):  # scrolling the gallery for 300 ms: no rest yet
        w.gallery.view.verticalScrollBar().valueChanged.emit(1)
        qtbot.wait(50)
        assert w.inspector.similarity_pending
    qtbot.waitUntil(lambda: plot.picture_of == first, timeout=10000)
    assert not w.inspector.similarity_pending
    pos, neg = similarity_sets(private_embeddings(w.review.project.embeddings_path()),
                               w.review.labels, first,
                               **run_similarity_params(w.review.run.params))
    np.testing.assert_allclose(plot.picture.pos, np.ravel(pos))


def test_device_detection_waits_for_a_project_being_opened(qtbot, tmp_path, scored_project,
                                                           monkeypatch):
    """The torch import of the device detection starts after a project opened at start-up is
    on screen, not beside its loading (both want the cores and the GIL)."""
    from fiqa_gui.gui import main_window, project_jobs

    seen = []
    real = project_jobs.detect_device
    monkeypatch.setattr(main_window, "DETECT_DELAY_MS", 0)
    monkeypatch.setattr(main_window, "DETECT_AFTER_JOB_MS", 10)
    monkeypatch.setattr(project_jobs, "detect_device",
                        lambda: (seen.append(w.review is not None), real())[1])
    w = MainWindow(AppSettings.at(tmp_path / "d.ini"))
    w.jobs.show_dialogs = False
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        assert w.open_project(scored_project)
    qtbot.waitUntil(lambda: getattr(w, "warmed_up", False), timeout=60000)
    assert seen == [True]
    assert w.status.device.text().startswith("device: ")
    w.close()


def test_the_first_similarity_picture_of_a_session_waits_for_a_rest(qtbot, make_window,
                                                                     scored_project,
                                                                     monkeypatch):
    """The first picture imports torch (the GIL held for long stretches): even in a small
    project it waits for a rest, not beside the window's first paint; once the scoring code
    is in, pictures of small projects come at once."""
    from fiqa_gui.gui import inspector

    w = make_window(scored_project)
    monkeypatch.setattr(inspector, "SCORING_MODULE", "fiqa_gui_scoring_not_imported_yet")
    _click_cluster(qtbot, w, 1)
    assert w.inspector.similarity_pending
    monkeypatch.undo()
    w.inspector._similarity_rest.stop()
    _click_cluster(qtbot, w, 2)
    assert not w.inspector.similarity_pending


def test_thumbnails_arrive(qtbot, make_window, scored_project):
    w = make_window(scored_project)
    _click_cluster(qtbot, w, 0)
    assert w.wait_idle(20000)
    from PySide6.QtGui import QPixmap

    view = w.gallery.view
    visible = [r for r in range(w.gallery.model.rowCount())
               if view.visualRect(w.gallery.model.index(r)).intersects(view.viewport().rect())]
    assert visible
    for r in visible:
        assert isinstance(w.loader.cached(w.gallery.model.image_id(r)), QPixmap)
    # a smaller tile size is a new decode size: placeholders, then thumbnails again
    w.gallery.size_slider.setValue(56)
    assert w.loader.bucket == 64
    assert w.wait_idle(20000)
    assert isinstance(w.loader.cached(w.gallery.model.image_id(0)), QPixmap)


def test_current_tile_is_painted(qtbot, make_window, scored_project):
    """Regression: the current tile (row 0 after a cluster is picked) painted blank white: its
    focus rectangle was drawn with the brush the caption chip left set, covering the tile."""
    from PySide6.QtGui import QImage, QPainter, QPalette
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    w = make_window(scored_project)
    _click_cluster(qtbot, w, 0)
    view, model = w.gallery.view, w.gallery.model
    w.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    assert w.wait_idle(20000)
    idx = model.index(0)
    assert view.currentIndex() == idx
    tile = model.data(idx, TILE_ROLE)
    assert tile is not None and tile.pixmap is not None  # the thumbnail has landed

    rect = view.visualRect(idx)
    centre = rect.center()
    grabbed = view.viewport().grab().toImage()
    shown = grabbed.pixelColor(centre)
    background = view.palette().color(QPalette.ColorRole.Base)
    assert shown != background

    # what the delegate paints for that tile, current and focused, on its own
    expected = QImage(grabbed.size(), grabbed.format())
    expected.fill(background)
    option = QStyleOptionViewItem()
    option.rect = rect
    option.palette = view.palette()
    option.state = (QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Active
                    | QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus)
    painter = QPainter(expected)
    view.itemDelegate().paint(painter, option, idx)
    painter.end()
    want = expected.pixelColor(centre)
    assert want != background
    # the same colour, give or take rounding between the view's and this paint device
    assert max(abs(a - b) for a, b in zip(shown.getRgb()[:3], want.getRgb()[:3],
                                          strict=True)) <= 3, (shown.name(), want.name())


def test_histogram_data_equals_similarity_sets(qtbot, make_window, scored_project,
                                               similarity_sets):
    w = make_window(scored_project)
    _click_cluster(qtbot, w, 1)
    image = int(w.gallery.shown_ids()[3])
    assert w.gallery.select_image(image)
    plot = w.inspector.similarity
    qtbot.waitUntil(lambda: plot.picture is not None and plot.picture.index == image,
                    timeout=20000)
    rv = w.review
    kw = run_similarity_params(rv.run.params)
    emb = private_embeddings(rv.project.embeddings_path())
    pos, neg = similarity_sets(emb, rv.labels, image, repeat=0, **kw)
    np.testing.assert_array_equal(plot.pos_values, np.asarray(pos, float))
    np.testing.assert_array_equal(plot.neg_values, np.asarray(neg, float))
    # the drawn bars are those sets, binned on shared edges, as shares of each set
    x, y = plot.pos_curve.getData()
    np.testing.assert_allclose(y, np.histogram(pos, plot.edges)[0] / len(pos))
    from scipy.stats import wasserstein_distance

    assert plot.picture.w1 == pytest.approx(wasserstein_distance(pos, neg))
    assert plot.pos_mean.value() == pytest.approx(np.mean(pos))
    assert plot.neg_mean.value() == pytest.approx(np.mean(neg))
    assert f"{plot.picture.w1:.3f}" in plot.w1_text.textItem.toPlainText()

    # another repetition is another draw of the same run
    if w.inspector.repeat_spin.maximum() > 1:
        w.inspector.repeat_spin.setValue(2)
        qtbot.waitUntil(lambda: plot.picture is not None and plot.picture.repeat == 1,
                        timeout=20000)
        emb = private_embeddings(rv.project.embeddings_path())
        pos1, _ = similarity_sets(emb, rv.labels, image, repeat=1, **kw)
        np.testing.assert_array_equal(plot.pos_values, np.asarray(pos1, float))


def test_scatter_click_selects_image_and_selection_highlights(qtbot, make_window,
                                                              scored_project):
    w = make_window(scored_project)
    _click_cluster(qtbot, w, 0)
    scatter = w.inspector.scatter
    qtbot.wait(50)  # let the plot lay itself out
    target = int(scatter.ids[len(scatter.ids) // 2])
    assert w.gallery.current_id() != target
    pos = scatter.widget_pos_of(target)
    # click exactly on the point: the gallery selects that image
    with qtbot.waitSignal(scatter.image_clicked, timeout=3000) as sig:
        qtbot.mouseClick(scatter.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert sig.args == [target] or w.gallery.current_id() == sig.args[0]
    clicked = sig.args[0]
    assert w.gallery.current_id() == clicked
    assert w.gallery.selected_ids().tolist() == [clicked]
    assert w.inspector.image_id == clicked

    # selecting images in the gallery rings their points
    some = w.gallery.shown_ids()[:4]
    w.gallery.select_images(some)
    assert sorted(scatter.highlighted.tolist()) == sorted(
        i for i in some.tolist() if i in set(scatter.ids.tolist()))
    # ctrl+click in the gallery adds to the selection and to the highlight
    view = w.gallery.view
    extra = w.gallery.model.index(6)
    view.selectionModel().select(extra, QItemSelectionModel.SelectionFlag.Select)
    assert int(w.gallery.shown_ids()[6]) in scatter.highlighted.tolist()


def test_score_range_filters_gallery(qtbot, make_window, scored_project):
    w = make_window(scored_project)
    _click_cluster(qtbot, w, 0)
    rv = w.review
    ranked = w.gallery.ranked_ids()
    values = rv.scores[w.gallery.by][ranked]
    lo, hi = np.nanquantile(values, [0.25, 0.75])
    w.inspector.distribution.set_range(lo, hi)  # what a finished drag emits
    shown = w.gallery.shown_ids()
    expected = ranked[(values >= lo) & (values <= hi)]
    assert 0 < len(shown) < len(ranked)
    assert shown.tolist() == expected.tolist()  # still in rank order
    assert w.gallery.clear_range_button.isVisible()
    assert "of 30 images" in w.gallery.info.text()
    # clicking a hidden image's point clears the range and selects it
    hidden = int(ranked[~((values >= lo) & (values <= hi))][0])
    w.inspector.scatter.image_clicked.emit(hidden)
    assert w.gallery.range is None and w.gallery.current_id() == hidden
    # a range again, then Clear range shows the whole cluster
    w.inspector.distribution.set_range(lo, hi)
    qtbot.mouseClick(w.gallery.clear_range_button, Qt.MouseButton.LeftButton)
    assert w.gallery.shown_ids().tolist() == ranked.tolist()
    assert w.inspector.distribution.region.getRegion()[0] <= np.nanmin(values)


def test_cluster_table_filter_and_sort(qtbot, make_window, scored_project):
    w = make_window(scored_project)
    panel = w.clusters
    by, cluster = w.gallery.by, w.gallery.cluster_id
    qtbot.keyClicks(panel.filter_edit, "or[]")  # one-key shortcuts do not steal typing
    assert panel.filter_edit.text() == "or[]"
    assert (w.gallery.by, w.gallery.cluster_id) == (by, cluster)
    panel.filter_edit.clear()
    qtbot.keyClicks(panel.filter_edit, "id_0")
    assert panel.proxy.rowCount() == len(SIZES)
    panel.filter_edit.clear()
    qtbot.keyClicks(panel.filter_edit, "id_03")
    assert panel.proxy.rowCount() == 1
    assert "1 of 6 clusters" in panel.count.text()
    panel.filter_edit.clear()
    assert panel.proxy.rowCount() == len(SIZES)
    # flag filter: the singleton cluster is flagged 'singleton'
    i = panel.flag_combo.findData("singleton")
    assert i >= 0
    panel.flag_combo.setCurrentIndex(i)
    assert panel.proxy.rowCount() == 1
    assert panel.proxy.index(0, 0).data(Qt.ItemDataRole.UserRole + 1) == 5
    panel.flag_combo.setCurrentIndex(0)
    # sort by mean SDD, descending (header click twice), NaN last
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(3) + header.sectionSize(3) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.viewport().rect().center().__class__(x, 5))
    means = [panel.proxy.index(r, 3).data() for r in range(panel.proxy.rowCount())]
    numeric = [float(m) for m in means if m != "–"]
    assert numeric == sorted(numeric) or numeric == sorted(numeric, reverse=True)
    assert means[-1] == "–"  # the singleton has no SDD: last either way


def test_error_becomes_a_message_not_a_traceback(qtbot, make_window, scored_project):
    w = make_window(scored_project)

    def bad(progress, cancel):
        raise UserInputError("the manifest has no path column", file="x.csv", fix="add one.")

    with qtbot.waitSignal(w.jobs.finished, timeout=5000) as sig:
        w.jobs.run("Creating the project", bad)
    assert sig.args == ["Creating the project", "failed"]
    title, text = w.jobs.last_message
    assert text == "x.csv: the manifest has no path column Fix: add one."

    def crash(progress, cancel):
        raise RuntimeError("boom")

    with qtbot.waitSignal(w.jobs.finished, timeout=5000):
        w.jobs.run("Scoring", crash)
    text = w.jobs.last_message[1]
    assert "Traceback" not in text and "boom" in text and ".log" in text
    # opening something that is not a project: the window keeps the open project
    with qtbot.waitSignal(w.jobs.finished, timeout=5000):
        w.open_project(scored_project.parent / "data")
    assert "not a FIQA Curator project" in w.jobs.last_message[1]
    assert w.review is not None and w.stack.currentWidget() is w.splitter


def test_scoring_job_can_be_cancelled_and_window_stays_usable(qtbot, make_window,
                                                              scored_project, monkeypatch):
    started = []

    def slow_score(project, params=None):
        def run(progress, cancel):
            started.append(time.monotonic())
            for k in range(600):  # ~30 s unless cancelled
                cancel.check()
                progress(k, 600, "scoring")
                time.sleep(0.05)
            return 99

        return run

    monkeypatch.setattr(project_jobs, "score_project", slow_score)
    monkeypatch.setattr(main_window_module, "scoring_available", lambda: True)
    w = make_window(scored_project)
    runs_before = len(w.review.project.runs())
    assert w.score_now()
    assert w.jobs.busy
    qtbot.waitUntil(lambda: w.status.bar.maximum() == 600, timeout=5000)
    assert w.status.cancel_button.isVisible()
    assert not w.score_action.isEnabled()  # one job at a time
    t0 = time.monotonic()
    with qtbot.waitSignal(w.jobs.finished, timeout=5000) as sig:
        qtbot.mouseClick(w.status.cancel_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["Scoring", "cancelled"]
    assert time.monotonic() - t0 < 2
    assert not w.jobs.busy and not w.status.cancel_button.isVisible()
    assert "cancelled" in w.status.currentMessage()
    assert len(w.review.project.runs()) == runs_before  # nothing stored
    # the window still works
    _click_cluster(qtbot, w, 2)
    assert w.gallery.model.rowCount() == SIZES[2]
    assert w.score_action.isEnabled()


def test_unscored_project_opens_and_scores(qtbot, make_window, tmp_path, monkeypatch):
    folder = build_sample_project(tmp_path / "unscored", (8, 6, 5), score=False)
    if not scoring_available():
        # the scoring package is not installed: store the documented stand-in the same way
        def stand_in(project, params=None):
            def run(progress, cancel):
                ds = project.dataset()
                s = stand_in_scores(np.asarray(project.embeddings()), ds.labels)
                flags = s.pop("flags")
                progress(1, 1, "scoring")
                return project.add_run("score", {"stand_in": True}, s, flags, device="cpu")
            return run

        monkeypatch.setattr(project_jobs, "score_project", stand_in)
        monkeypatch.setattr(main_window_module, "scoring_available", lambda: True)
    w = make_window(folder)
    assert w.review.scores is None
    assert w.banner.isVisible()
    assert not w.gallery.rank_combo.isEnabled()
    assert w.gallery.shown_ids().tolist() == list(range(8))  # file order
    assert "not scored" in w.status.counts.text()
    with qtbot.waitSignal(w.project_opened, timeout=60000):
        qtbot.mouseClick(w.score_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not w.jobs.busy, timeout=60000)
        assert w.jobs.last_message is None, w.jobs.last_message
    assert w.review.scores is not None
    assert not w.banner.isVisible()
    assert w.gallery.rank_combo.isEnabled()
    c = w.gallery.cluster_id
    assert w.gallery.shown_ids().tolist() == rank_cluster(
        w.review.scores, w.review.labels, c, "sdd").tolist()


def test_layout_and_recent_projects_are_remembered(qtbot, make_window, scored_project):
    w = make_window(scored_project)
    w.gallery.size_slider.setValue(160)
    w.splitter.setSizes([300, 700, 400])
    sizes = w.splitter.sizes()
    w.close()
    w2 = make_window()
    assert w2.gallery.size_slider.value() == 160
    assert w2.settings.recent_projects()[0] == str(scored_project)
    assert w2.settings.last_project() == str(scored_project)
    assert w2.stack.currentWidget() is w2.start
    assert w2.start.recent.count() == 1
    with qtbot.waitSignal(w2.project_opened, timeout=20000):
        w2.start.recent.itemActivated.emit(w2.start.recent.item(0))  # double-click / Enter
    assert w2.splitter.sizes() == sizes


def test_preview_and_shortcuts(qtbot, make_window, scored_project):
    w = make_window(scored_project)
    _click_cluster(qtbot, w, 0)
    dialog = w.gallery.open_preview(0)
    assert dialog is not None and dialog.image.pixmap() is not None
    assert not dialog.image.pixmap().isNull()
    assert w.review.dataset.paths[w.gallery.model.image_id(0)] in dialog.caption.text()
    dialog.close()
    # View ▸ Next cluster (Alt+Down) and rank cycling (S)
    w.gallery.view.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert w.gallery.cluster_id == w.clusters.current_cluster() == 1
    by = w.gallery.by
    w.cycle_rank()
    assert w.gallery.by != by
    by = w.gallery.by
    qtbot.keyClick(w.gallery.view, Qt.Key.Key_S)  # S: rank by the next score (R rejects)
    assert w.gallery.by != by


def test_new_project_from_manifest_and_cache_warm_up(qtbot, make_window, tmp_path,
                                                     monkeypatch):
    from fiqa_gui.gui.new_project_dialog import NewProjectDialog
    from fiqa_gui.gui.sample_data import write_sample_data

    files = write_sample_data(tmp_path / "data", (5, 4), image_px=300)
    target = tmp_path / "new-project"

    def accept(dialog):
        dialog.source.setText(str(files["manifest"]))
        dialog.embeddings.setText(str(files["embeddings"]))
        dialog.folder.setText(str(target))
        dialog._accept()
        return dialog.result()

    monkeypatch.setattr(NewProjectDialog, "exec", accept)
    w = make_window()
    with qtbot.waitSignal(w.project_opened, timeout=30000):
        w.new_project("manifest")
    assert (target / "project.sqlite").is_file()
    assert w.review.folder == target and w.review.n_images == 9
    assert w.banner.isVisible()  # a new project has no scores yet
    with qtbot.waitSignal(w.jobs.finished, timeout=30000) as sig:
        w.warm_thumbnails()
    assert sig.args[1] == "done"
    cached = list((target / "thumbnails").rglob("*.jpg"))
    assert len(cached) == 9  # 300 px sources are worth caching at thumbnail size


def test_new_project_error_brings_the_dialog_back_with_its_paths(qtbot, make_window, tmp_path,
                                                                monkeypatch):
    """Creating fails on the input (embeddings of the wrong length): the same dialog comes
    back, every path as typed, the message inside it — nothing to type again."""
    import numpy as np

    from fiqa_gui.gui.new_project_dialog import NewProjectDialog
    from fiqa_gui.gui.sample_data import write_sample_data

    files = write_sample_data(tmp_path / "data", (5, 4), image_px=64)
    np.save(files["embeddings"], np.load(files["embeddings"])[:-2])  # 7 rows for 9 images
    target = tmp_path / "new-project"
    seen = []

    def exec_(dialog):
        if not seen:
            dialog.source.setText(str(files["manifest"]))
            dialog.embeddings.setText(str(files["embeddings"]))
            dialog.folder.setText(str(target))
            dialog._accept()
        seen.append((dialog, dialog.source.text(), dialog.embeddings.text(),
                     dialog.folder.text(), dialog.error.text()))
        return dialog.result() if len(seen) == 1 else NewProjectDialog.DialogCode.Rejected

    monkeypatch.setattr(NewProjectDialog, "exec", exec_)
    w = make_window()
    w.new_project("manifest")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=30000)
    first, again = seen
    assert again[0] is first[0]  # the same dialog
    assert again[1:4] == (str(files["manifest"]), str(files["embeddings"]), str(target))
    assert "7 rows" in again[4] and "Traceback" not in again[4]
    assert w.review is None and not (target / "project.sqlite").exists()
