"""Curation in the review window (offscreen): keys in the gallery change the store, one undo step
per action however many images, undo/redo, cluster actions, read-only and save-error safety.

Every check reads the store back — through the window's connection (`read_annotations`) and
through a fresh read-only connection — never the widgets' own state alone.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402

from fiqa_gui.core.curation import commands as cur  # noqa: E402
from fiqa_gui.core.review.annotations import Annotations  # noqa: E402
from fiqa_gui.core.review.codes import TIER_HIGH, TIER_LOW, TIER_NONE, TIER_UNUSABLE  # noqa: E402
from fiqa_gui.core.review.history import describe_audit, image_history  # noqa: E402
from fiqa_gui.core.store import Project  # noqa: E402
from fiqa_gui.gui.gallery_view import ANY  # noqa: E402
from fiqa_gui.gui.main_window import EDIT_ACTIONS  # noqa: E402
from tests.conftest import SAMPLE_SIZES  # noqa: E402

SIZES = SAMPLE_SIZES


@pytest.fixture
def project(sample_project):
    return sample_project


@pytest.fixture
def window(window_factory):
    return window_factory


def stored(folder) -> dict[int, dict]:
    """The annotations as a fresh read-only connection sees them."""
    with Project.open(folder, read_only=True) as p:
        return cur.read_annotations(p)


def focus_gallery(qtbot, w, cluster: int = 0):
    w.activateWindow()
    if w.gallery.cluster_id != cluster:
        assert w.clusters.select_cluster(cluster)
    view = w.gallery.view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    return view


def key(qtbot, widget, k, mods=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(widget, k, mods)


# ----------------------------------------------------------------------------- tiers and undo
def test_tier_keys_write_the_store_and_ctrl_z_restores_them(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    ids = w.gallery.shown_ids()[:5]
    w.gallery.select_images(ids)
    key(qtbot, view, Qt.Key.Key_1)
    want = {int(i): {"tier": "high"} for i in ids}
    assert cur.read_annotations(w.review.project) == want
    assert stored(project) == want
    assert w.controller.stack.count() == 1  # five images, one undo step
    assert "Set tier 'high' on 5 image(s)" in w.undo_action.text()
    # the tiles show the curator's tier, drawn as such
    model = w.gallery.model
    tile = model.data(model.index(model.row_of(int(ids[0]))), Qt.ItemDataRole.UserRole + 1)
    assert tile.tier == TIER_HIGH and tile.curated

    key(qtbot, view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert cur.read_annotations(w.review.project) == {}
    assert stored(project) == {}
    tile = model.data(model.index(model.row_of(int(ids[0]))), Qt.ItemDataRole.UserRole + 1)
    assert not tile.curated
    key(qtbot, view, Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert stored(project) == want
    key(qtbot, view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    key(qtbot, view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Y redoes too
    assert stored(project) == want

    # the letter keys and clearing; a multi-selection stays one step each time
    for k, tier in ((Qt.Key.Key_M, "mid"), (Qt.Key.Key_L, "low"), (Qt.Key.Key_U, "unusable"),
                    (Qt.Key.Key_H, "high"), (Qt.Key.Key_2, "mid"), (Qt.Key.Key_3, "low"),
                    (Qt.Key.Key_4, "unusable")):
        key(qtbot, view, k)
        assert {v["tier"] for v in stored(project).values()} == {tier}, k
    n = w.controller.stack.count()
    key(qtbot, view, Qt.Key.Key_0)
    assert stored(project) == {}
    key(qtbot, view, Qt.Key.Key_4)
    key(qtbot, view, Qt.Key.Key_Backspace)
    assert stored(project) == {}
    assert w.controller.stack.count() == n + 3
    # the same key again changes nothing and adds no empty step
    key(qtbot, view, Qt.Key.Key_Backspace)
    assert w.controller.stack.count() == n + 3
    # undo everything: the store is as it was
    while w.controller.stack.canUndo():
        assert w.controller.undo()
    assert stored(project) == {}
    # every apply and revert is in the audit log
    with Project.open(project, read_only=True) as p:
        actions = [r[2] for r in p.audit_log()]
    steps = w.controller.stack.count()  # each applied once, plus the two redone earlier
    assert actions.count("set_tier") == actions.count("undo:set_tier") == steps + 2


def test_tier_keys_work_where_the_selection_shows_but_not_in_text_fields(qtbot, window,
                                                                         project):
    w = window(project)
    focus_gallery(qtbot, w)
    current = w.gallery.current_id()
    cluster = w.gallery.cluster_id
    w.clusters.table.setFocus()  # after clicking a cluster the keys still label the image
    qtbot.waitUntil(w.clusters.table.hasFocus, timeout=5000)
    key(qtbot, w.clusters.table, Qt.Key.Key_1)
    assert stored(project) == {current: {"tier": "high"}}
    key(qtbot, w.clusters.table, Qt.Key.Key_I)  # no type-ahead: the cluster stays
    assert w.gallery.cluster_id == cluster
    w.controller.undo()
    assert stored(project) == {}
    w.clusters.filter_edit.setFocus()
    key(qtbot, w.clusters.filter_edit, Qt.Key.Key_2)
    assert stored(project) == {} and w.clusters.filter_edit.text() == "2"


def test_seed_and_wrong_identity_keys(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    ids = [int(i) for i in w.gallery.shown_ids()[:3]]
    w.gallery.select_images(ids[:2])
    key(qtbot, view, Qt.Key.Key_A)
    assert {i: v["seed_state"] for i, v in stored(project).items()} == {
        ids[0]: "approved", ids[1]: "approved"}
    w.gallery.select_images([ids[2]])
    key(qtbot, view, Qt.Key.Key_R)
    assert stored(project)[ids[2]] == {"seed_state": "rejected"}
    key(qtbot, view, Qt.Key.Key_W)
    assert stored(project)[ids[2]] == {"seed_state": "rejected", "wrong_identity": 1}
    model = w.gallery.model
    tile = model.data(model.index(model.row_of(ids[2])), Qt.ItemDataRole.UserRole + 1)
    assert tile.wrong and tile.seed == 3
    key(qtbot, view, Qt.Key.Key_W)  # toggles back
    assert stored(project)[ids[2]] == {"seed_state": "rejected"}
    # W on a mixed selection marks all of them
    w.gallery.select_images(ids)
    key(qtbot, view, Qt.Key.Key_W)
    assert all(stored(project)[i].get("wrong_identity") == 1 for i in ids)
    assert w.controller.stack.count() == 5
    for _ in range(5):
        key(qtbot, view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(project) == {}


def test_navigation_keys(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    shown = w.gallery.shown_ids()
    assert w.gallery.current_id() == shown[0]
    key(qtbot, view, Qt.Key.Key_J)
    key(qtbot, view, Qt.Key.Key_J)
    assert w.gallery.current_id() == shown[2]
    key(qtbot, view, Qt.Key.Key_K)
    assert w.gallery.current_id() == shown[1]
    assert w.inspector.image_id == shown[1]
    key(qtbot, view, Qt.Key.Key_Right)  # the view's own arrows
    assert w.gallery.current_id() == shown[2]
    order = w.clusters.shown_clusters()
    key(qtbot, view, Qt.Key.Key_N)
    assert w.gallery.cluster_id == order[1]
    key(qtbot, view, Qt.Key.Key_N)
    assert w.gallery.cluster_id == order[2]
    key(qtbot, view, Qt.Key.Key_P)
    assert w.gallery.cluster_id == order[1]
    # N works from the cluster list too
    w.clusters.table.setFocus()
    key(qtbot, w.clusters.table, Qt.Key.Key_N)
    assert w.gallery.cluster_id == order[2]


def test_shortcuts_dialog_lists_every_shortcut(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    key(qtbot, view, Qt.Key.Key_Question)
    dialog = w.shortcuts_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.text()
    seen = 0
    for action in w.findChildren(QAction):
        for seq in action.shortcuts():
            name = seq.toString(seq.SequenceFormat.NativeText)
            assert name in text, (action.text(), name)
            seen += 1
    assert seen >= 40
    for words in ("Tier high", "Approve as seed", "Toggle wrong identity", "Next flagged item",
                  "Undo", "Enter / Space", "Identity suspect", "Consistency trap",
                  "your tier"):
        assert words in text, words
    dialog.close()
    key(qtbot, view, Qt.Key.Key_F1)
    assert w.shortcuts_dialog.isVisible()


def test_review_state_done_key_advances_and_filters(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    order = w.clusters.shown_clusters()
    first = w.gallery.cluster_id
    key(qtbot, view, Qt.Key.Key_D)
    with Project.open(project, read_only=True) as p:
        states = {c[1]: c[3] for c in p.clusters()}
    assert states[w.review.summaries.names[first]] == "done"
    assert sum(s == "done" for s in states.values()) == 1
    assert w.gallery.cluster_id == order[order.index(first) + 1]
    assert "done" in w.clusters.model.index(
        int(w.clusters.model.row_of[first]), 6).data()
    w.clusters.set_state_filter("done")
    assert w.clusters.shown_clusters() == [first]
    w.clusters.set_state_filter("unreviewed")
    assert first not in w.clusters.shown_clusters()
    w.clusters.set_state_filter(ANY)
    key(qtbot, view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with Project.open(project, read_only=True) as p:
        assert {c[3] for c in p.clusters()} == {"unreviewed"}
    # the menu entries set any state
    w.actions_by_name["state_in_review"].trigger()
    assert w.review.summaries.review_state[w.gallery.cluster_id] == "in_review"


def test_move_images_and_merge_clusters_are_undoable(qtbot, window, project):
    w = window(project)
    focus_gallery(qtbot, w, 0)
    moved = [int(i) for i in w.gallery.shown_ids()[:2]]
    w.gallery.select_images(moved)
    dialog = w.curation.ask_move()
    assert dialog is not None and "id_02" in dialog.names
    dialog.edit.setText("id_new")
    assert "new" in dialog.hint.text()
    dialog.accept()
    with Project.open(project, read_only=True) as p:
        names = p.cluster_names_by_id()
        clusters = p.image_cluster_ids()
        assert {names[int(clusters[i])] for i in moved} == {"id_new"}
    assert "id_new" in w.review.summaries.names
    assert w.gallery.model.rowCount() == SIZES[0] - 2  # still in id_01, two fewer
    assert w.review.summaries.names[w.gallery.cluster_id] == "id_01"
    w.controller.undo()
    assert "id_new" not in w.review.summaries.names
    assert w.gallery.model.rowCount() == SIZES[0]
    with Project.open(project, read_only=True) as p:
        assert "id_new" not in p.cluster_names_by_id().values()

    # merge id_05 into id_04 from the cluster menu's dialog
    c5 = w.review.summaries.names.index("id_05")
    w.clusters.select_cluster(c5)
    table = w.clusters.table
    row = w.clusters.proxy.mapFromSource(w.clusters.model.index(int(
        w.clusters.model.row_of[c5]), 1))
    w.clusters._context_menu(table.visualRect(row).center())  # right-click
    texts = [a.text() for a in w.clusters.context_menu.actions()]
    assert "Merge this cluster into…" in texts and "Done" in texts
    w.clusters.context_menu.close()
    dialog = w.curation.ask_merge()
    dialog.edit.setText("nobody")
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.edit.setText("id_04")
    dialog.accept()
    assert "id_05" not in w.review.summaries.names
    c4 = w.review.summaries.names.index("id_04")
    assert w.gallery.cluster_id == c4  # went where the images went
    assert int(w.review.summaries.sizes[c4]) == SIZES[3] + SIZES[4]
    w.controller.undo()
    assert "id_05" in w.review.summaries.names
    with Project.open(project, read_only=True) as p:
        assert sorted(c[2] for c in p.clusters()) == sorted(SIZES)

    # moving every image out empties the cluster: it leaves the list, the view follows
    c6 = w.review.summaries.names.index("id_06")
    w.clusters.select_cluster(c6)
    lone = int(w.gallery.shown_ids()[0])
    w.gallery.select_images([lone])
    assert w.curation.move([lone], "id_05")
    assert "id_06" not in w.review.summaries.names
    assert w.review.summaries.names[w.gallery.cluster_id] == "id_05"
    assert w.gallery.current_id() == lone
    w.controller.undo()
    assert w.review.summaries.names[int(w.review.labels[lone])] == "id_06"
    assert len(w.review.summaries) == len(SIZES)


def test_inspector_editor_and_history(qtbot, window, project):
    w = window(project)
    focus_gallery(qtbot, w)
    i = w.gallery.current_id()
    editor = w.inspector.editor
    editor.note.setText("blurred, check")
    editor.note.editingFinished.emit()
    editor.score.setValue(42.5)
    editor.score.editingFinished.emit()
    editor.tier.activated.emit(editor.tier.findData("low"))
    assert stored(project)[i] == {"note": "blurred, check", "corrected_score": 42.5,
                                  "tier": "low"}
    assert w.controller.stack.count() == 3
    text = w.inspector.details.text()
    assert "History" in text and "tier — → low" in text and "note" in text
    assert "corrected score <b>42.5</b>" in text
    # the corrected-score key moves the focus to the editor
    view = focus_gallery(qtbot, w)
    key(qtbot, view, Qt.Key.Key_C)
    qtbot.waitUntil(editor.score.hasFocus, timeout=5000)
    w.controller.undo()
    assert "tier" not in stored(project)[i]
    assert editor.tier.currentData() is None  # the editor re-reads the store


def test_gallery_filters_by_tier_correction_and_flag(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    g = w.gallery
    ids = g.shown_ids()
    g.select_images(ids[:3])
    key(qtbot, view, Qt.Key.Key_4)
    g.set_filters(correction="corrected")
    assert sorted(g.shown_ids().tolist()) == sorted(ids[:3].tolist())
    g.set_filters(correction="uncorrected")
    assert set(g.shown_ids().tolist()) == set(ids[3:].tolist())
    # labelling in the "not corrected" queue: the image leaves, the next becomes current
    current = g.current_id()
    nxt = int(g.shown_ids()[1])
    view.setFocus()
    key(qtbot, view, Qt.Key.Key_3)
    assert current not in g.shown_ids().tolist() and g.current_id() == nxt
    g.set_filters(correction=ANY, tier=TIER_UNUSABLE)
    assert sorted(g.shown_ids().tolist()) == sorted(ids[:3].tolist())
    g.set_filters(tier=TIER_LOW)
    shown = g.shown_ids()
    assert current in shown.tolist()
    assert (w.review.shown_tiers(shown) == TIER_LOW).all()
    g.set_filters(tier=ANY, flag="__flagged__")
    flagged = g.shown_ids()
    assert len(flagged) and w.review.image_flag_mask(flagged).all()
    g.clear_filters()
    assert len(g.shown_ids()) == SIZES[0]


def test_read_only_when_another_process_holds_the_project(qtbot, window, project):
    holder = Project.open(project)  # another FIQA Curator has it open for writing
    try:
        w = window()
        w.jobs.show_dialogs = True
        with qtbot.waitSignal(w.jobs.finished, timeout=20000):
            w.open_project(project)
        box = w.read_only_prompt
        assert box is not None and box.isVisible()
        assert "open in another FIQA Curator" in box.text()
        with qtbot.waitSignal(w.project_opened, timeout=20000):
            box.read_only_button.click()
        assert w.review.read_only
        assert "read-only" in w.windowTitle()
        assert w.status.read_only.isVisible()
        for name in EDIT_ACTIONS:
            assert not w.actions_by_name[name].isEnabled(), name
        assert not w.score_action.isEnabled() and not w.rescore_action.isEnabled()
        assert not w.inspector.editor.tier.isEnabled()
        view = focus_gallery(qtbot, w)
        key(qtbot, view, Qt.Key.Key_1)
        key(qtbot, view, Qt.Key.Key_A)
        assert w.curation.set_tier("low") is False
        assert cur.read_annotations(holder) == {}
        assert w.controller.stack.count() == 0
    finally:
        holder.close()


def test_locked_project_cancelled_and_read_only_folder(qtbot, window, project, monkeypatch):
    holder = Project.open(project)
    try:
        w = window()
        w.jobs.show_dialogs = True
        with qtbot.waitSignal(w.jobs.finished, timeout=20000):
            w.open_project(project)
        w.read_only_prompt.button(w.read_only_prompt.StandardButton.Cancel).click()
        assert w.review is None and w.stack.currentWidget() is w.start
    finally:
        holder.close()
    # a folder that cannot be written (root ignores permissions: pretend)
    import fiqa_gui.core.store.project as store_project

    real = store_project.os.access
    monkeypatch.setattr(store_project.os, "access",
                        lambda path, mode: False if mode == os.W_OK else real(path, mode))
    with qtbot.waitSignal(w.jobs.finished, timeout=20000):
        w.open_project(project)
    assert "read-only" in w.read_only_prompt.text()
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        w.read_only_prompt.read_only_button.click()
    assert w.review.read_only and not w.actions_by_name["tier_high"].isEnabled()


def test_newer_schema_is_refused_with_a_message(qtbot, window, project):
    with Project.open(project) as p:
        p.conn.execute("INSERT INTO schema_version(version) VALUES (99)")
    w = window()
    with qtbot.waitSignal(w.jobs.finished, timeout=20000) as sig:
        w.open_project(project)
    assert sig.args[1] == "failed"
    title, text = w.jobs.last_message
    assert "newer FIQA Curator" in text and "schema version 99" in text
    assert w.review is None and w.read_only_prompt is None


def test_save_error_shows_a_dialog_and_loses_nothing(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    conn = w.review.project.conn
    ids = [int(i) for i in w.gallery.shown_ids()]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
    done = 0
    tiers = ("high", "low")
    for k in range(400):
        w.gallery.select_images(ids if k % 2 == 0 else ids[: len(ids) // 2])
        before = cur.read_annotations(w.review.project)
        count = w.controller.stack.count()
        w.jobs.last_message = None
        w.curation.set_tier(tiers[k % 2])
        if w.jobs.last_message is not None:
            break
        done += 1
        assert w.controller.stack.count() == count + 1
    else:
        pytest.fail("the database never filled up")
    title, text = w.jobs.last_message
    assert title == "The change was not saved" and "nothing of it was written" in text
    assert "full" in text  # the real cause, not a follow-up error
    # the failed action left no trace: the store, the undo stack and the tiles are as before
    assert cur.read_annotations(w.review.project) == before == stored(project)
    assert w.controller.stack.count() == count == done
    tiers_shown = w.review.annotations.tier[ids]
    expected = np.array([{"high": TIER_HIGH, "low": TIER_LOW}.get(
        before.get(i, {}).get("tier"), TIER_NONE) for i in ids])
    np.testing.assert_array_equal(tiers_shown, expected)
    # undo while the disk is still full: refused (and reported), or done — never half done
    w.jobs.last_message = None
    undone = w.controller.undo()
    if not undone:
        assert w.jobs.last_message[0] == "The undo was not saved"
        assert w.controller.stack.index() == count
        assert cur.read_annotations(w.review.project) == before
    # space again: everything can be undone, step by step, down to the untouched project
    conn.execute("PRAGMA max_page_count = 1073741823")
    while w.controller.stack.canUndo():
        assert w.controller.undo()
    assert stored(project) == {}
    key(qtbot, view, Qt.Key.Key_1)
    assert len(stored(project)) > 0


def test_edits_survive_closing_and_reopening(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    i = w.gallery.current_id()
    key(qtbot, view, Qt.Key.Key_U)
    key(qtbot, view, Qt.Key.Key_A)
    w.close()
    w2 = window(project)
    assert w2.review.annotations.of(i)["tier"] == "unusable"
    assert w2.review.annotations.of(i)["seed_state"] == "approved"
    assert w2.controller.stack.count() == 0  # the session's history is allowed to go


def test_history_panel_goes_back_and_forth(qtbot, window, project):
    w = window(project)
    view = focus_gallery(qtbot, w)
    for k in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):
        key(qtbot, view, k)
    w.actions_by_name["history"].trigger()
    assert w.history_dock.isVisible()
    assert w.history.count() == 4  # the start + three actions
    w.controller.set_index(1)
    i = w.gallery.current_id()
    assert stored(project)[i]["tier"] == "high"
    assert w.history.currentRow() == 1
    w.controller.set_index(3)
    assert stored(project)[i]["tier"] == "low"


# ----------------------------------------------------------------------------- core helpers
def test_annotations_refresh_reads_only_what_changed(project):
    with Project.open(project) as p:
        a = Annotations.load(p, p.image_count())
        assert (a.tier == TIER_NONE).all()
        cur.set_tier(p, [1, 2], "mid").apply(p)
        cur.set_note(p, [2], "x").apply(p)
        a.refresh(p, [1])
        assert a.of(1)["tier"] == "mid" and a.of(2)["tier"] is None  # 2 not re-read yet
        a.refresh(p, [2])
        assert a.of(2) == {"tier": "mid", "corrected_score": None, "wrong_identity": False,
                           "seed_state": None, "note": "x"}
        assert a.corrected_mask().sum() == 2
        history = image_history(p, 2)
        assert [h[1] for h in history] == ["note — → x", "tier — → mid"]
        assert image_history(p, 20) == []  # '2' in '[1, 2]' does not match image 20


def test_describe_audit_in_words():
    assert describe_audit("set_tier", {"3": None}, {"tier": "low"}, "3", {}) == "tier — → low"
    assert describe_audit("undo:set_tier", {"tier": "low"}, {"3": "mid"}, "3", {}) == \
        "undo: tier low → mid"
    assert describe_audit("set_wrong_identity", {"3": 0}, {"wrong_identity": 1}, "3", {}) == \
        "wrong identity no → yes"
    assert describe_audit("move_images", {}, {"cluster": "b", "created": True}, "3", {}) == \
        "moved to cluster b (new)"


def test_keyboard_alone_from_opening(qtbot, window, project):
    """Open, and the keys work at once: label, next cluster, done, undo — no mouse."""
    from PySide6.QtWidgets import QApplication

    w = window(project)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.gallery.view, timeout=5000)

    def press(k, mods=Qt.KeyboardModifier.NoModifier):
        qtbot.keyClick(QApplication.focusWidget(), k, mods)

    first = w.gallery.current_id()
    press(Qt.Key.Key_3)
    press(Qt.Key.Key_J)
    press(Qt.Key.Key_A)
    second = w.gallery.current_id()
    c = w.gallery.cluster_id
    press(Qt.Key.Key_D)
    assert w.gallery.cluster_id != c
    assert stored(project) == {first: {"tier": "low"}, second: {"seed_state": "approved"}}
    for _ in range(3):
        press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(project) == {}
    with Project.open(project, read_only=True) as p:
        assert {c[3] for c in p.clusters()} == {"unreviewed"}


def test_no_key_is_bound_twice(qtbot, window):
    w = window()
    seen = {}
    for action in w.findChildren(QAction):
        for seq in action.shortcuts():
            k = seq.toString()
            assert k not in seen, f"{k} is bound to {seen[k]!r} and {action.text()!r}"
            seen[k] = action.text()
