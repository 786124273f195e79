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
