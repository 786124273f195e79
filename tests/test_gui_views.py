"""The window's views over the whole dataset (#17): every flagged image across clusters, every
image ranked, compare (an identity suspect beside both clusters' anchors, one key to move it),
and the embedding map linked both ways with the gallery — driven with the window's own keys."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.review.dataset_views import (
    IDENTITY_SUSPECT,
    FlagIndex,
    ranked_view,
)
from fiqa_gui.core.store import Project
from fiqa_gui.gui.gallery_model import TILE_ROLE


def _key(qtbot, key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, mods)


def _tier_of(folder, image_id: int) -> str | None:
    with Project.open(folder, read_only=True) as p:
        return cur.read_annotations(p).get(image_id, {}).get("tier")


def test_flagged_view_shows_every_flagged_image_and_takes_the_curation_keys(
        qtbot, window_factory, sample_project):
    w = window_factory(sample_project)
    rv = w.review
    flags = FlagIndex(rv.scores["flags"])
    # the tab says how many there are before it is ever opened
    assert w.views.name == "cluster" and f"({flags.count():,})" in w.views.tabText(1)
    _key(qtbot, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert w.views.name == "flagged"
    panel = w.views.flagged
    shown = panel.model.ids()
    # every image-level flag of the run, each once, and nothing else
    assert len(shown) == flags.count() > 0
    assert sorted(shown.tolist()) == np.flatnonzero(flags.mask(None)).tolist()
    assert f"({flags.count():,})" in w.views.tabText(1)
    # cluster by cluster: the clusters come in contiguous runs
    runs = rv.labels[shown]
    assert len(np.unique(runs)) == 1 + int(np.count_nonzero(np.diff(runs)))
    # the inspector and the cluster gallery follow the view's current image
    first = panel.current_id()
    assert first == int(shown[0])
    assert w.inspector.image_id == first
    assert w.gallery.cluster_id == int(rv.labels[first])
    # J steps in the view, and the cluster gallery follows across clusters
    w.centre_focus().setFocus()
    _key(qtbot, Qt.Key.Key_J)
    second = panel.current_id()
    assert second == int(shown[1]) and w.inspector.image_id == second
    assert w.gallery.cluster_id == int(rv.labels[second])
    # a tier key labels the view's current image; Ctrl+Z undoes it
    _key(qtbot, Qt.Key.Key_3)
    assert _tier_of(sample_project, second) == "low"
    assert panel.current_id() == second  # the view stays where the curator was
    _key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _tier_of(sample_project, second) is None
    # back to the cluster gallery: the keys act there again
    _key(qtbot, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert w.views.name == "cluster" and w.views.image_view() is None


def test_ranked_view_orders_every_image_of_the_dataset(qtbot, window_factory, sample_project):
    w = window_factory(sample_project)
    rv = w.review
    _key(qtbot, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    panel = w.views.ranked
    assert w.views.name == "ranked"
    np.testing.assert_array_equal(panel.model.ids(), ranked_view(rv.scores, panel.by))
    assert f"all {rv.n_images:,} images" in panel.info.text()
    # S ranks by the next score; O reverses
    before = panel.by
    w.centre_focus().setFocus()
    _key(qtbot, Qt.Key.Key_S)
    assert panel.by != before
    np.testing.assert_array_equal(panel.model.ids(), ranked_view(rv.scores, panel.by))
    _key(qtbot, Qt.Key.Key_O)
    np.testing.assert_array_equal(panel.model.ids(),
                                  ranked_view(rv.scores, panel.by, descending=False))
    # tiles name their cluster (the view spans clusters)
    tile = panel.model.data(panel.model.index(0), TILE_ROLE)
    i = int(panel.model.ids()[0])
    assert tile.cluster == rv.summaries.names[int(rv.labels[i])]


def test_compare_shows_a_suspect_beside_both_clusters_and_shift_m_moves_it(
        qtbot, window_factory, sample_project):
    w = window_factory(sample_project)
    rv = w.review
    flags = FlagIndex(rv.scores["flags"])
    if not flags.count(IDENTITY_SUSPECT):
        pytest.fail("the sample project must plant an identity suspect")
    _key(qtbot, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    cmp_ = w.views.compare
    assert w.views.name == "compare"
    s = cmp_.suspect
    assert s is not None and flags.mask(IDENTITY_SUSPECT)[s.image_id]
    assert cmp_.subject_id() == s.image_id == w.inspector.image_id
    assert s.nearer >= 0 and s.nearer != s.cluster
    own, nearer = cmp_.own.model.ids(), cmp_.nearer.model.ids()
    assert len(own) and len(nearer)
    assert set(rv.labels[own].tolist()) == {s.cluster} and s.image_id not in own.tolist()
    assert set(rv.labels[nearer].tolist()) == {s.nearer}
    assert rv.summaries.names[s.nearer] in cmp_.move_button.text()
    assert rv.summaries.names[s.nearer] in cmp_.explanation.text()
    # Shift+M moves it to the nearer cluster; Ctrl+Z puts it back
    image, target = s.image_id, s.nearer
    cmp_.subject.view.setFocus()
    _key(qtbot, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: int(w.review.labels[image]) == target, timeout=10000)
    with Project.open(sample_project, read_only=True) as p:
        assert int(p.dataset().labels[image]) == target
    _key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: int(w.review.labels[image]) == s.cluster, timeout=10000)


def test_embedding_map_is_linked_both_ways_with_the_gallery(qtbot, window_factory,
                                                            sample_project):
    w = window_factory(sample_project)
    rv = w.review
    cluster = int(np.argmax(np.bincount(rv.labels)))  # the largest cluster
    assert w.clusters.select_cluster(cluster)
    mp = w.views.map
    with qtbot.waitSignal(mp.drawn, timeout=20000):
        _key(qtbot, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert w.views.name == "map"
    plot = mp.plot
    assert sorted(plot.ids.tolist()) == rv.index.members(cluster).tolist()
    assert "PC1" in plot.getPlotItem().getAxis("bottom").labelText
    # a click on a point selects its image in the gallery (and the inspector shows it)
    qtbot.wait(50)
    target = int(next(i for i in plot.ids if int(i) != w.gallery.current_id()))
    with qtbot.waitSignal(plot.image_clicked, timeout=3000) as sig:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=plot.widget_pos_of(target))
    clicked = sig.args[0]
    assert w.gallery.current_id() == clicked and w.inspector.image_id == clicked
    # the gallery's selection rings its points, and its current image is marked
    some = w.gallery.shown_ids()[:3]
    w.gallery.select_images(some)
    assert sorted(plot.highlighted.tolist()) == sorted(some.tolist())
    # colour by a flag: the legend says what the colours mean
    k = next(k for k in range(mp.colour_combo.count())
             if "flag" in mp.colour_combo.itemText(k).lower())
    mp.colour_combo.setCurrentIndex(k)
    mp.colour_combo.activated.emit(k)
    assert mp.legend.text()


@pytest.mark.parametrize("view", ["flagged", "compare"])
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_view_screenshot_is_the_size_asked(qtbot, sample_project, tmp_path, view, size):
    from fiqa_gui.cli import main

    shot = tmp_path / f"{view}.png"
    assert main(["gui", str(sample_project), "--screenshot", str(shot), "--size",
                 f"{size[0]}x{size[1]}", "--view", view]) == 0
    image = QImage(str(shot))
    assert (image.width(), image.height()) == size


def test_a_ring_shows_which_panel_has_the_keys(qtbot, window_factory, sample_project):
    w = window_factory(sample_project)
    w.activateWindow()
    ring = w.focus_ring
    w.clusters.table.setFocus()
    qtbot.waitUntil(lambda: ring.panel is w.clusters)
    assert ring.isVisible()
    assert ring.geometry().topLeft() == w.clusters.mapTo(w, w.clusters.rect().topLeft())
    assert ring.size() == w.clusters.size()
    # Tab moves the keys, and the ring goes with them: the centre view, then the inspector
    _key(qtbot, Qt.Key.Key_Tab)
    assert ring.panel is w.views and ring.geometry().size() == w.views.size()
    _key(qtbot, Qt.Key.Key_Tab)
    assert ring.panel is w.inspector
    # it follows the panel when the splitter gives it another width
    sizes = w.splitter.sizes()
    w.splitter.setSizes([sizes[0], sizes[1] - 80, sizes[2] + 80])
    qtbot.waitUntil(lambda: ring.size() == w.inspector.size())
    # no project, no panel: no ring over the start screen
    w.close_project()
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.start)
    assert not ring.isVisible()


def test_the_command_line_offers_every_view_of_the_window():
    from fiqa_gui.cli.window_commands import VIEWS
    from fiqa_gui.gui.view_tabs import TABS

    assert VIEWS == TABS
