"""Screenshots of the main views, written as PNGs (looked at by people, not compared pixel by
pixel). Set FIQA_SCREENSHOT_DIR to keep them; otherwise they go to pytest's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402

from fiqa_gui.gui.app import run_gui, save_window_png  # noqa: E402
from fiqa_gui.gui.main_window import MainWindow  # noqa: E402
from fiqa_gui.gui.sample_data import build_sample_project  # noqa: E402
from fiqa_gui.gui.settings import AppSettings  # noqa: E402


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return build_sample_project(tmp_path_factory.mktemp("shots"), (40, 14, 12, 9, 6, 1),
                                image_px=96)


@pytest.fixture
def out_dir(tmp_path):
    d = os.environ.get("FIQA_SCREENSHOT_DIR")
    return Path(d) if d else tmp_path


def _size(path: Path) -> tuple[int, int]:
    img = QImage(str(path))
    return img.width(), img.height()


def test_run_gui_screenshot(qtbot, project, out_dir):
    path = out_dir / "main_window.png"
    assert run_gui(project, screenshot=path) == 0
    w, h = _size(path)
    assert w >= 1400 and h >= 900


def test_run_gui_screenshot_of_a_missing_project(qtbot, tmp_path, capsys):
    assert run_gui(tmp_path / "nothing", screenshot=tmp_path / "x.png") == 2
    assert "not a FIQA Curator project" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_panel_screenshots_light_and_dark(qtbot, project, out_dir, tmp_path):
    w = MainWindow(AppSettings.at(tmp_path / "s.ini"), detect_device=False)
    qtbot.addWidget(w)
    w.jobs.show_dialogs = False
    w.resize(1400, 900)
    w.show()
    save_window_png(w, out_dir / "start_screen.png")
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        w.open_project(project)
    assert w.wait_idle(20000)
    save_window_png(w.clusters, out_dir / "cluster_list.png")
    save_window_png(w.gallery, out_dir / "gallery.png")
    save_window_png(w.inspector, out_dir / "inspector.png")
    w.set_theme("dark", save=False)
    w.clusters.step(1)
    assert w.wait_idle(20000)
    save_window_png(w, out_dir / "main_window_dark.png")
    for name in ("start_screen", "cluster_list", "gallery", "inspector", "main_window_dark"):
        assert (out_dir / f"{name}.png").stat().st_size > 5000
    w.set_theme("light", save=False)
    w.close()


def _curate(w) -> None:
    """A curator's first minutes on a cluster: tiers, a wrong identity, seeds, a corrected score,
    a note, one cluster done; the inspector on a flagged image."""
    g, c = w.gallery, w.curation
    ids = [int(i) for i in g.shown_ids()]
    rv = w.review
    g.select_images(ids[:3])
    c.set_tier("high")
    g.select_images(ids[-3:])
    c.set_tier("low")
    g.select_images(ids[3:5])
    c.set_seed("approved")
    g.select_images([ids[5]])
    c.set_seed("rejected")
    suspects = [i for i in ids if "identity_suspect" in rv.scores["flags"][i]]
    if suspects:
        g.select_images([suspects[-1]])
        c.toggle_wrong()
    g.select_images([ids[6]])
    c.edit("corrected_score", 72.0)
    g.select_images([ids[7]])
    c.edit("note", "profile view, keep")
    g.select_image(suspects[0] if suspects else ids[0])


def _shoot_curated(qtbot, w, out_dir, prefix: str) -> None:
    _curate(w)
    assert w.wait_idle(20000)
    save_window_png(w, out_dir / f"{prefix}main_window_curated.png")
    save_window_png(w.gallery, out_dir / f"{prefix}gallery_curated.png")
    save_window_png(w.inspector, out_dir / f"{prefix}inspector_curated.png")
    save_window_png(w.clusters, out_dir / f"{prefix}cluster_list_flags.png")


def test_curation_screenshots(qtbot, project, out_dir, tmp_path):
    """Corrected and flagged states, the shortcuts help, the re-score summary, read-only."""
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    w = MainWindow(AppSettings.at(tmp_path / "s.ini"), detect_device=False)
    qtbot.addWidget(w)
    w.jobs.show_dialogs = False
    w.resize(1600, 1000)
    w.splitter.setSizes([480, 600, 520])
    w.show()
    with qtbot.waitSignal(w.project_opened, timeout=20000):
        w.open_project(copy)
    _shoot_curated(qtbot, w, out_dir, "")
    dialog = w.show_shortcuts()
    save_window_png(dialog, out_dir / "shortcuts_dialog.png")
    dialog.close()
    # re-score with the approved seeds: the summary dialog and the window on the new run
    with qtbot.waitSignal(w.project_opened, timeout=60000):
        w.rescore_action.trigger()
    assert w.rescore_dialog is not None
    assert w.wait_idle(20000)
    save_window_png(w.rescore_dialog, out_dir / "rescore_summary.png")
    save_window_png(w, out_dir / "main_window_rescored.png")
    # a second window while this one holds the project: read-only
    w2 = MainWindow(AppSettings.at(tmp_path / "s2.ini"), detect_device=False)
    qtbot.addWidget(w2)
    w2.resize(1600, 1000)
    w2.show()
    with qtbot.waitSignal(w2.jobs.finished, timeout=20000):
        w2.open_project(copy)
    save_window_png(w2.read_only_prompt, out_dir / "read_only_prompt.png")
    with qtbot.waitSignal(w2.project_opened, timeout=20000):
        w2.read_only_prompt.read_only_button.click()
    w2.jobs.show_dialogs = False
    assert w2.wait_idle(20000)
    save_window_png(w2, out_dir / "main_window_read_only.png")
    for name in ("main_window_curated", "gallery_curated", "inspector_curated",
                 "cluster_list_flags", "shortcuts_dialog", "rescore_summary",
                 "main_window_rescored", "read_only_prompt", "main_window_read_only"):
        assert (out_dir / f"{name}.png").stat().st_size > 5000, name
    w2.close()
    w.close()


@pytest.mark.slow
def test_demo_screenshots(qtbot, out_dir, tmp_path):
    """The same on the demo project (generated: ~10 s more); run with -m slow."""
    from fiqa_gui.core.demo.project import ensure_demo_project

    demo = ensure_demo_project(tmp_path / "demo")
    w = MainWindow(AppSettings.at(tmp_path / "s.ini"), detect_device=False)
    qtbot.addWidget(w)
    w.jobs.show_dialogs = False
    w.resize(1600, 1000)
    w.splitter.setSizes([480, 600, 520])
    w.show()
    with qtbot.waitSignal(w.project_opened, timeout=60000):
        w.open_project(demo)
    assert w.wait_idle(60000)
    save_window_png(w, out_dir / "demo_main_window.png")
    _shoot_curated(qtbot, w, out_dir, "demo_")
    w.close()
