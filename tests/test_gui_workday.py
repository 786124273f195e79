"""A curator's working day in the window: one focus model (Tab between panels, curation keys
wherever the selection is shown, no silent type-ahead), the large preview that follows J/K and
takes the tier keys, export defaults and its audit row, docks only with a project, the
read-only question, sub-cluster notes, naming of the dataset band, and resuming where the
curator was."""

from __future__ import annotations

import json
import os

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fiqa_gui.core.curation import commands as cur  # noqa: E402
from fiqa_gui.core.review.cue_text import cue_text, cue_title  # noqa: E402
from fiqa_gui.core.store.project import Project  # noqa: E402
from fiqa_gui.gui.main_window import MainWindow  # noqa: E402
from fiqa_gui.gui.seed_panel import STRATA_COLUMNS  # noqa: E402
from fiqa_gui.gui.settings import AppSettings  # noqa: E402


def _stored(folder) -> dict:
    with Project.open(folder, read_only=True) as p:
        return cur.read_annotations(p)


def _focus(qtbot, widget) -> None:
    widget.window().activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=5000)


def test_tab_moves_between_panels_not_cells(qtbot, window_factory, sample_project):
    w = window_factory(sample_project)
    _focus(qtbot, w.clusters.table)
    order = w.focus_panels()
    assert order[:3] == [w.clusters.table, w.gallery.view, w.inspector.editor.tier]
    for expected in order[1:] + order[:1]:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is expected
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab)
    assert QApplication.focusWidget() is order[-1]
    # the cluster table's cells are not a Tab chain of their own
    assert not w.clusters.table.tabKeyNavigation()


def test_typing_in_the_cluster_list_never_switches_cluster(qtbot, window_factory,
                                                            sample_project):
    w = window_factory(sample_project)
    _focus(qtbot, w.clusters.table)
    cluster = w.clusters.current_cluster()
    for k in (Qt.Key.Key_I, Qt.Key.Key_5, Qt.Key.Key_Z, Qt.Key.Key_B):
        qtbot.keyClick(w.clusters.table, k)
    assert w.clusters.current_cluster() == cluster


def test_large_preview_follows_j_k_and_takes_the_tier_keys(qtbot, window_factory,
                                                          sample_project):
    w = window_factory(sample_project)
    g = w.gallery
    first, second = (int(i) for i in g.shown_ids()[:2])
    dialog = g.open_preview(0)
    qtbot.waitExposed(dialog)
    _focus(qtbot, dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_J)
    assert g.current_id() == second
    assert dialog.path == g.model.path_of(second)
    qtbot.keyClick(dialog, Qt.Key.Key_1)
    assert _stored(sample_project) == {second: {"tier": "high"}}
    assert "tier high" in dialog.marks.text()
    qtbot.keyClick(dialog, Qt.Key.Key_K)
    assert g.current_id() == first and dialog.path == g.model.path_of(first)
    assert g.open_preview(1) is dialog  # one preview window, reused
    dialog.close()


def test_export_defaults_confirmation_and_audit_row(qtbot, window_factory, sample_project,
                                                    tmp_path):
    w = window_factory(sample_project)
    dialog = w.show_export()
    assert dialog.checks["labels"].isChecked() and dialog.checks["audit"].isChecked()
    dialog.folder.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.exported, timeout=30000):
        assert dialog.start()
    title, text = w.jobs.last_message
    assert title == "Export finished" and "quality_labels.txt" in text
    assert "recorded in the project's audit log" in text
    with Project.open(sample_project, read_only=True) as p:
        rows = [r for r in p.audit_log() if r[2] == "export"]
    assert len(rows) == 1
    outputs = json.loads(rows[0][5])["outputs"]
    assert {o["kind"] for o in outputs} >= {"labels", "audit"}
    assert all((tmp_path / "out").joinpath(os.path.basename(o["path"])).exists()
               for o in outputs)


def test_docks_only_with_a_project(qtbot, window_factory, sample_project):
    w = window_factory()
    assert not any(d.isVisible() for d in w.docks)  # the start screen has none
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        w.open_project(sample_project)
    assert w.seed_dock.isVisible() and w.clustering_dock.isVisibleTo(w)
    w.close_project()
    assert not any(d.isVisible() for d in w.docks)


def test_no_failed_message_while_the_read_only_question_is_open(qtbot, window_factory,
                                                                 sample_project):
    w1 = window_factory(sample_project)
    w2 = window_factory()
    with qtbot.waitSignal(w2.jobs.finished, timeout=20000):
        w2.open_project(sample_project)
    assert "read-only" in w2.jobs.last_message[0].lower() or w2.jobs.last_message
    assert "failed" not in w2.status.currentMessage()
    assert "read-only" in w2.status.currentMessage()
    assert w1.review is not None


def test_seed_note_after_clustering(qtbot, window_factory, sample_project):
    w = window_factory(sample_project)
    assert "run a clustering" in w.seed_panel.strata_note.text()
    with qtbot.waitSignal(w.jobs.finished, timeout=60000):
        assert w.subclusters.run()
    assert w.subclusters.run_id is not None
    assert "run a clustering" not in w.seed_panel.strata_note.text()


def test_the_dataset_band_is_named_apart_from_the_cluster_tier(window_factory,
                                                              sample_project):
    w = window_factory(sample_project)
    text = w.inspector.details.text()
    assert "dataset band" in text and "computed tier" not in text
    assert STRATA_COLUMNS[0] == "Cluster tier"


def test_categorical_cues_read_as_words():
    assert cue_text("near_dup_group", -1.0) == "none"
    assert cue_text("near_dup_group", 3.0) == "#3"
    assert cue_text("is_anchor", 1.0) == "yes" and cue_text("is_anchor", 0.0) == "no"
    assert cue_text("sharpness", 236.2) is None
    assert cue_title("near_dup_group") == "near-duplicate group"


def test_why_this_sdd_shows_the_selected_image_on_every_open(qtbot, window_factory,
                                                            sample_project):
    for _ in range(3):
        w = window_factory(sample_project)
        assert w.wait_idle(20000)
        plot = w.inspector.similarity
        assert plot.picture is not None and plot.picture_of == w.gallery.current_id() >= 0
        w.close()


def test_reopening_resumes_where_the_curator_was(qtbot, sample_project, tmp_path):
    settings_file = tmp_path / "resume.ini"

    def window():
        w = MainWindow(AppSettings.at(settings_file), detect_device=False)
        w.jobs.show_dialogs = False
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        with qtbot.waitSignal(w.project_opened, timeout=20000):
            assert w.open_project(sample_project)
        QApplication.processEvents()
        return w

    w = window()
    rv = w.review
    sizes = np.asarray(rv.summaries.sizes)
    target = int(np.argsort(-sizes)[1])  # not the showcase cluster
    assert w.clusters.select_cluster(target)
    w.gallery.set_rank("sdd", descending=False)
    image = int(w.gallery.shown_ids()[3])
    assert w.gallery.select_image(image)
    w.clusters.set_state_filter("unreviewed")
    w.gallery.set_filters(correction="uncorrected")
    runs = [r.id for r in rv.runs]
    w.close()

    w2 = window()
    assert w2.gallery.cluster_id == target
    assert w2.gallery.current_id() == image
    assert (w2.gallery.by, w2.gallery.descending) == ("sdd", False)
    assert w2.clusters.proxy.state == "unreviewed"
    assert w2.gallery.correction_filter == "uncorrected"
    assert w2.review.run.id in runs
    w2.close()


def test_help_explains_every_score_and_flag_and_has_about(window_factory):
    from fiqa_gui.core.review.score_guide import flag_entries, score_entries
    from fiqa_gui.gui.flag_icons import FLAG_INFO

    keys = {e.key for e in score_entries()} | {e.key for e in flag_entries()}
    assert {"sdd", "cr", "iq", "quality"} <= keys
    assert {f for f in FLAG_INFO if f != "cluster_score_shift"} <= keys
    assert all(len(e.text) > 60 for e in score_entries() + flag_entries())
    w = window_factory()
    help_menu = w.menus["Help"]
    texts = [a.text().replace("&", "") for a in help_menu.actions() if a.text()]
    assert any("What the scores mean" in t for t in texts) and any("About" in t for t in texts)
    w.actions_by_name["score_guide"].trigger()
    guide = w.score_guide
    assert guide.isVisible() and "Wasserstein" in guide.text.toPlainText()
    assert "Consistency trap" in guide.text.toPlainText()
    w.actions_by_name["about"].trigger()
    assert "FIQA Curator" in w.about_dialog.text.toPlainText()
