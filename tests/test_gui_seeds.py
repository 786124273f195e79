"""The seed-set workflow in the review window (offscreen): propose, approve / reject by buttons
and keys, swap, add, approve the set, undo — every check reads the store back — and the
dashboard's numbers against the core's `progress_dashboard`."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from fiqa_gui.core.curation import seeds  # noqa: E402
from fiqa_gui.core.review.codes import SEED_APPROVED, SEED_PROPOSED, SEED_REJECTED  # noqa: E402
from fiqa_gui.core.store import Project  # noqa: E402
from fiqa_gui.gui.dashboard import dashboard_line  # noqa: E402
from fiqa_gui.gui.main_window import MainWindow  # noqa: E402
from fiqa_gui.gui.settings import AppSettings  # noqa: E402
from tests.conftest import SAMPLE_SIZES  # noqa: E402

SIZES = SAMPLE_SIZES


@pytest.fixture
def project(sample_project):
    return sample_project


@pytest.fixture
def window(qtbot, tmp_path, project):
    w = MainWindow(AppSettings.at(tmp_path / "s.ini"), detect_device=False)
    w.jobs.show_dialogs = False
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        assert w.open_project(project)
    assert w.clusters.select_cluster(0)
    yield w
    w.close()
    assert w.jobs.pool.activeThreadCount() == 0


def stored_states(folder) -> dict[int, str]:
    with Project.open(folder, read_only=True) as p:
        return seeds.seed_states(p)


def stored_sets(folder) -> dict:
    with Project.open(folder, read_only=True) as p:
        return seeds.seed_set_rows(p)


def tile_seed(w, image_id: int) -> int:
    model = w.gallery.model
    return model.data(model.index(model.row_of(int(image_id))), Qt.ItemDataRole.UserRole + 1).seed


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def proposed_ids(w) -> list[int]:
    return sorted(i for i, s in seeds.seed_states(w.review.project).items() if s == "proposed")


def test_panel_shows_a_preview_until_proposed(window):
    w = window
    p = w.seed_panel
    assert w.seed_dock.isVisible()
    assert "Preview" in p.strata_note.text()
    assert p.table.rowCount() == 3  # high, mid, low (no sub-clusters, no attributes)
    assert [p.table.item(r, 0).text() for r in range(3)] == ["high", "mid", "low"]
    assert "not proposed yet" in p.title.text()
    assert sorted(p.attributes()) == []
    assert p.attribute_list.count() == 2  # pose, planted
    p.quota_spins["high"].setValue(5)  # the preview follows the quotas
    assert int(p.table.item(0, 4).text()) == 5
    p.set_attribute_checked("pose")
    assert p.table.rowCount() > 3 and "·" not in p.table.item(0, 2).text()


def test_a_big_clusters_preview_is_sampled_on_a_worker_and_equals_propose_seeds(
        qtbot, window, monkeypatch):
    """Above PREVIEW_SYNC_MAX_IMAGES the switch shows a placeholder; the strata arrive from the
    worker thread and are those `propose_seeds` finds for the cluster."""
    import threading

    from fiqa_gui.core.review import review_data
    from fiqa_gui.core.seedsets.sampling import propose_seeds
    from fiqa_gui.gui import seed_actions

    w = window
    p = w.seed_panel
    monkeypatch.setattr(seed_actions, "PREVIEW_SYNC_MAX_IMAGES", 0)  # every cluster is "big"
    threads = []
    run = review_data.SeedPreview.run
    monkeypatch.setattr(review_data.SeedPreview, "run", lambda self: (
        threads.append(threading.current_thread()), run(self))[1])
    c = 1
    assert w.clusters.select_cluster(c)
    assert "Preview of the strata" in p.strata_note.text() and p.table.rowCount() == 0
    qtbot.waitUntil(lambda: "Preview with the quotas" in p.strata_note.text(), timeout=10000)
    assert threads and threads[0] is not threading.main_thread()
    db = int(w.review.cluster_db_ids[c])
    want = propose_seeds(w.review.project, params=w.seeds.params(), cluster_ids=[db])
    shown = [[p.table.item(r, k).text() for k in (0, 3, 4, 5)] for r in range(p.table.rowCount())]
    assert shown == [[k.tier, str(k.available), str(k.quota), str(k.picked)]
                     for k in want.coverage if k.cluster_id == db]
    # the worker's picks are the core's, image for image
    prop = review_data.cluster_seed_preview(w.review, c, w.seeds.params()).run()
    assert prop.picks == {db: want.picks[db]}
    # a preview that arrives after the curator moved on is not shown
    assert w.clusters.select_cluster(0)
    assert w.clusters.select_cluster(2)
    assert w.clusters.select_cluster(0)
    qtbot.waitUntil(lambda: "Preview with the quotas" in p.strata_note.text(), timeout=10000)
    db0 = int(w.review.cluster_db_ids[0])
    want0 = propose_seeds(w.review.project, params=w.seeds.params(), cluster_ids=[db0])
    assert [int(p.table.item(r, 3).text()) for r in range(p.table.rowCount())] == \
        [k.available for k in want0.coverage if k.cluster_id == db0]


def test_propose_approve_reject_by_buttons_and_undo(qtbot, window, project):
    w = window
    p = w.seed_panel
    p.quota_spins["high"].setValue(4)
    click(qtbot, p.propose_button)
    picked = proposed_ids(w)
    assert len(picked) == 4 + 2 + 2
    assert stored_states(project) == {i: "proposed" for i in picked}
    rows = stored_sets(project)
    assert list(rows) == [int(w.review.cluster_db_ids[0])] and rows[0][0] == "open"
    assert "Strata of the proposal" in p.strata_note.text()
    quotas = [int(p.table.item(r, 4).text()) for r in range(p.table.rowCount())]
    assert quotas == [4, 2, 2]
    assert all(tile_seed(w, i) == SEED_PROPOSED for i in picked)

    w.gallery.select_images(picked[:2])
    click(qtbot, p.approve_button)
    w.gallery.select_images(picked[2:3])
    click(qtbot, p.reject_button)
    want = {i: "proposed" for i in picked}
    want.update({picked[0]: "approved", picked[1]: "approved", picked[2]: "rejected"})
    assert stored_states(project) == want
    assert tile_seed(w, picked[0]) == SEED_APPROVED and tile_seed(w, picked[2]) == SEED_REJECTED
    assert "2 approved" in p.title.text() and "1 rejected" in p.title.text()

    w.gallery.view.setFocus()
    qtbot.keyClick(w.gallery.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    want[picked[2]] = "proposed"
    assert stored_states(project) == want
    assert tile_seed(w, picked[2]) == SEED_PROPOSED
    w.controller.undo()
    w.controller.undo()  # the approval and the proposal
    assert stored_states(project) == {}
    assert stored_sets(project) == {}
    assert "Preview" in p.strata_note.text()


def test_keys_and_add_and_swap(qtbot, window, project):
    w = window
    p = w.seed_panel
    click(qtbot, p.propose_button)
    picked = proposed_ids(w)
    view = w.gallery.view
    w.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    w.gallery.select_images(picked[:1])
    qtbot.keyClick(view, Qt.Key.Key_A)
    w.gallery.select_images(picked[1:2])
    qtbot.keyClick(view, Qt.Key.Key_R)
    st = seeds.seed_states(w.review.project)
    assert st[picked[0]] == "approved" and st[picked[1]] == "rejected"

    others = [int(i) for i in w.gallery.shown_ids() if int(i) not in st][:2]
    w.gallery.select_images(others)
    click(qtbot, p.add_button)
    st = stored_states(project)
    assert all(st[i] == "approved" for i in others)

    out_id = picked[2]
    w.gallery.select_image(out_id)
    suggestion = seeds.suggest_replacements(w.review.project, out_id, limit=1)[0]
    click(qtbot, p.swap_button)
    st = stored_states(project)
    assert st[out_id] == "rejected" and st[suggestion] == "proposed"
    assert w.gallery.current_id() == suggestion
    w.controller.undo()
    st = stored_states(project)
    assert st[out_id] == "proposed" and suggestion not in st


def test_approve_seed_set_asks_about_pending_and_dashboard_matches(qtbot, window, project,
                                                                   monkeypatch):
    w = window
    p = w.seed_panel
    click(qtbot, p.propose_button)
    picked = proposed_ids(w)
    db = int(w.review.cluster_db_ids[0])
    w.gallery.select_images(picked[:3])
    click(qtbot, p.approve_button)

    asked = []
    monkeypatch.setattr(w.seeds, "ask_pending", lambda n: asked.append(n) or None)
    click(qtbot, p.approve_set_button)  # cancelled: nothing changes
    assert asked == [len(picked) - 3]
    assert stored_sets(project)[db][0] == "open"

    monkeypatch.setattr(w.seeds, "ask_pending", lambda n: "reject")
    click(qtbot, p.approve_set_button)
    rows = stored_sets(project)
    assert rows[db][0] == "approved" and rows[db][1]
    st = stored_states(project)
    assert sorted(i for i, s in st.items() if s == "approved") == picked[:3]
    assert sorted(i for i, s in st.items() if s == "rejected") == picked[3:]
    assert "approved" in p.title.text()

    d = seeds.progress_dashboard(w.review.project)
    assert d.sets_approved == 1 and d.images_approved == 3
    assert p.progress.text() == dashboard_line(d)
    dialog = w.seeds.show_dashboard()
    assert dialog.bar.value() == d.sets_approved and dialog.bar.maximum() == d.clusters
    table = {dialog.table.item(r, 0).text(): int(dialog.table.item(r, 1).text())
             for r in range(dialog.table.rowCount())}
    assert sum(table.values()) == d.images_approved
    assert table["high"] == d.approved_by_tier["high"]

    w.controller.undo()
    assert stored_sets(project)[db][0] == "open"
    assert seeds.progress_dashboard(w.review.project).sets_approved == 0
    assert dialog.bar.value() == 0


def test_propose_all_clusters_runs_as_a_job(qtbot, window, project):
    w = window
    p = w.seed_panel
    p.set_attribute_checked("pose")
    assert p.attributes() == ("pose",)
    with qtbot.waitSignal(w.jobs.finished, timeout=20000):
        click(qtbot, p.propose_all_button)
    qtbot.waitUntil(lambda: len(stored_sets(project)) == len(SIZES), timeout=5000)
    assert w.controller.stack.count() == 1
    params = seeds.cluster_params(w.review.project, int(w.review.cluster_db_ids[0]))
    assert params["sampling"]["attributes"] == ["pose"]
    assert any(r[2] for r in params["coverage"])  # strata carry the pose value
    assert p.table.rowCount() == len(params["coverage"])
    w.controller.undo()
    assert stored_states(project) == {} and stored_sets(project) == {}


def test_read_only_disables_the_seed_buttons(qtbot, tmp_path, project):
    w = MainWindow(AppSettings.at(tmp_path / "r.ini"), detect_device=False)
    w.jobs.show_dialogs = False
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        assert w.open_project(project, read_only=True)
    assert not w.seed_panel.propose_button.isEnabled()
    assert not w.seed_panel.approve_set_button.isEnabled()
    assert not w.seeds.propose()
    w.close()


def test_dashboard_line_numbers():
    d = seeds.Dashboard(4, 1, 2, 5, 6, 7)
    assert dashboard_line(d).startswith("Dataset: seed sets approved 1/4 (25 %)")
    assert np.isclose(d.fraction_approved, 0.25)


# ----------------------------------------------------------------------------- sub-clusters
def test_clustering_job_stores_a_run_and_the_level_groups_the_gallery(qtbot, window, project):
    from fiqa_gui.core.seedsets.clustering import latest_clustering_run, load_level, load_levels
    from fiqa_gui.gui.clustering_panel import parse_thresholds

    w = window
    panel = w.clustering_panel
    assert not panel.level_combo.isEnabled()
    panel.thresholds.setText("0.5, 0.3 0.1")
    with qtbot.waitSignal(w.jobs.finished, timeout=30000):
        click(qtbot, panel.run_button)
    qtbot.waitUntil(lambda: w.subclusters.run_id is not None, timeout=5000)
    with Project.open(project, read_only=True) as p:
        run = latest_clustering_run(p)
        assert run == w.subclusters.run_id
        assert [t for _, t in load_levels(p, run)] == [0.5, 0.3, 0.1]
        labels = load_level(p, run, 0)
    assert panel.level_combo.count() == 3 and panel.level_combo.currentData() == 1
    assert panel.group_check.isChecked()
    assert "1 sub-cluster(s)" in panel.cluster_info.text()
    panel.level_combo.setCurrentIndex(0)  # the tightest level splits id_01
    n_groups = len({int(labels[i]) for i in w.gallery.shown_ids()})
    assert n_groups > 1 and f"{n_groups} sub-cluster(s)" in panel.cluster_info.text()
    shown = w.gallery.shown_ids()
    groups = [w.gallery.model.data(w.gallery.model.index(r), Qt.ItemDataRole.UserRole + 1).group
              for r in range(len(shown))]
    assert groups[0] == 1 and groups == sorted(groups)  # contiguous groups, best first
    assert max(groups) == n_groups
    assert f"grouped in {n_groups} sub-cluster(s)" in w.gallery.info.text()
    # one group number <-> one sub-cluster label
    assert len({(g, int(labels[i])) for g, i in zip(groups, shown, strict=True)}) == \
        len(set(groups)) == len({int(labels[i]) for i in shown})
    # within a group, rank order
    ranked = list(w.review.rank(0, w.gallery.by, w.gallery.descending))
    for g in set(groups):
        members = [int(i) for gg, i in zip(groups, shown, strict=True) if gg == g]
        assert members == sorted(members, key=ranked.index)
    # the seed strata now carry sub-clusters
    assert "no sub-clusters" not in w.seed_panel.strata_note.text()
    panel.group_check.setChecked(False)
    assert list(w.gallery.shown_ids()) == ranked
    assert w.gallery.model.groups is None
    assert parse_thresholds("0.7;0.6") == (0.7, 0.6)
    with pytest.raises(Exception, match="not a number"):
        parse_thresholds("0.7, x")


# ----------------------------------------------------------------------------- export
def _approve_some(qtbot, w) -> list[int]:
    click(qtbot, w.seed_panel.propose_button)
    picked = proposed_ids(w)
    w.gallery.select_images(picked[:3])
    click(qtbot, w.seed_panel.approve_button)
    return picked[:3]


def test_export_dialog_writes_files_that_parse_back(qtbot, window, tmp_path):
    import csv
    import json

    w = window
    approved = _approve_some(qtbot, w)
    dialog = w.show_export()
    assert w.actions_by_name["export"].shortcuts()[0].toString() == "Ctrl+E"
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    for key in ("csv_path", "jsonl_path", "tree", "labels", "audit"):
        dialog.set_output(key)
    with qtbot.waitSignal(dialog.exported, timeout=30000):
        click(qtbot, dialog.export_button)
    with open(out / "seeds.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["image_id"]) for r in rows) == approved
    assert {r["seed_state"] for r in rows} == {"approved"}
    with open(out / "seeds.jsonl", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    assert sorted(int(r["image_id"]) for r in lines) == approved
    tree_files = [p for p in (out / "seed_images").glob("*/*") if p.is_file()]
    assert len(tree_files) == len(approved)
    assert all(p.parent.name == "id_01" for p in tree_files)
    from fiqa_gui.core.export.project_export import read_labels

    labels = read_labels(out / "quality_labels.txt")
    report = {r.kind: r for r in dialog.reports}
    assert len(labels) == len(w.review.dataset.paths) - report["labels"].skipped
    with open(out / "audit_log.csv", newline="", encoding="utf-8") as f:
        audit = list(csv.DictReader(f))
    assert any(r["action"] == "approve_seeds" for r in audit)
    assert not dialog.isVisible()


def test_export_refuses_to_overwrite_without_confirmation(qtbot, window, tmp_path, monkeypatch):
    w = window
    _approve_some(qtbot, w)
    out = tmp_path / "out"
    out.mkdir()
    (out / "seeds.csv").write_text("keep me\n", encoding="utf-8")
    dialog = w.show_export()
    dialog.folder.setText(str(out))
    dialog.set_output("jsonl_path", False)
    asked = []
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda paths: asked.append(paths) or False)
    assert not dialog.start()
    assert asked == [[out / "seeds.csv"]]
    assert (out / "seeds.csv").read_text(encoding="utf-8") == "keep me\n"
    assert not w.jobs.busy

    monkeypatch.setattr(dialog, "confirm_overwrite", lambda paths: True)
    with qtbot.waitSignal(dialog.exported, timeout=30000):
        assert dialog.start()
    assert (out / "seeds.csv").read_text(encoding="utf-8").startswith("image_id")


def test_export_errors_become_dialogs(qtbot, window, tmp_path):
    w = window
    _approve_some(qtbot, w)
    blocker = tmp_path / "a_file"
    blocker.write_text("x", encoding="utf-8")
    dialog = w.show_export()
    dialog.folder.setText(str(tmp_path))
    for key in ("jsonl_path", "csv_path", "labels", "audit"):
        dialog.set_output(key, False)
    dialog.set_output("tree")
    dialog.names["tree"].setText("a_file")  # exists and is not a folder: refused even forced
    dialog.confirm_overwrite = lambda paths: True
    with qtbot.waitSignal(w.jobs.finished, timeout=30000):
        assert dialog.start()
    title, text = w.jobs.last_message
    assert "Exporting failed" in title and "not a folder" in text
    assert blocker.read_text(encoding="utf-8") == "x"
    dialog.set_output("tree", False)
    assert not dialog.start()
    assert "at least one output" in w.jobs.last_message[1]


def test_a_key_on_an_approved_set_reopens_it_and_undo_restores(qtbot, window, project):
    w = window
    approved = _approve_some(qtbot, w)
    db = int(w.review.cluster_db_ids[0])
    assert w.seeds.approve_set("reject")
    assert stored_sets(project)[db][0] == "approved"
    view = w.gallery.view
    w.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    other = next(int(i) for i in w.gallery.shown_ids() if int(i) not in approved)
    w.gallery.select_images([other])
    qtbot.keyClick(view, Qt.Key.Key_A)
    assert stored_states(project)[other] == "approved"
    assert stored_sets(project)[db][0] == "open"
    assert "open" in w.seed_panel.title.text()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert other not in stored_states(project)
    assert stored_sets(project)[db][0] == "approved"
    assert "approved" in w.seed_panel.approve_set_button.text()


def test_demo_project_sample_approve_export_from_the_window(qtbot, tmp_path, monkeypatch):
    """The issue's 'done when' on the demo: propose for every cluster, approve one cluster's
    set from the panel, export, and load the files in a fresh Python process."""
    import json
    import subprocess
    import sys

    from fiqa_gui.core.demo.project import ensure_demo_project

    folder = ensure_demo_project(tmp_path / "demo", n_clusters=12)
    w = MainWindow(AppSettings.at(tmp_path / "d.ini"), detect_device=False)
    w.jobs.show_dialogs = False
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    with qtbot.waitSignal(w.project_opened, timeout=30000):
        assert w.open_project(folder)
    sizes = np.bincount(w.review.labels)
    c = int(np.argmax(sizes))
    assert w.clusters.select_cluster(c)
    with qtbot.waitSignal(w.jobs.finished, timeout=60000):
        click(qtbot, w.seed_panel.propose_all_button)
    qtbot.waitUntil(lambda: len(proposed_ids(w)) > 0, timeout=10000)
    db = int(w.review.cluster_db_ids[c])
    monkeypatch.setattr(w.seeds, "ask_pending", lambda n: "approve")
    click(qtbot, w.seed_panel.approve_set_button)
    assert stored_sets(folder)[db][0] == "approved"
    approved = sorted(i for i, s in stored_states(folder).items() if s == "approved")
    assert approved
    dialog = w.show_export()
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    for key in ("csv_path", "jsonl_path", "labels"):
        dialog.set_output(key)
    with qtbot.waitSignal(dialog.exported, timeout=30000):
        click(qtbot, dialog.export_button)
    n_images = len(w.review.dataset.paths)
    w.close()
    code = ("import csv, json, sys; d = sys.argv[1]; "
            "rows = list(csv.DictReader(open(d + '/seeds.csv', encoding='utf-8'))); "
            "js = [json.loads(x) for x in open(d + '/seeds.jsonl', encoding='utf-8')]; "
            "lab = [x.split('\\t') for x in open(d + '/quality_labels.txt', encoding='utf-8')]; "
            "print(json.dumps([sorted(int(r['image_id']) for r in rows), "
            "sorted(int(r['image_id']) for r in js), len(lab), "
            "sorted({r['seed_state'] for r in rows})]))")
    res = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                         text=True, check=True)
    csv_ids, jsonl_ids, n_labels, states = json.loads(res.stdout)
    assert csv_ids == jsonl_ids == approved and states == ["approved"]
    assert n_labels >= n_images - 5
