"""The window from a 1280×720 laptop to a 4K screen: its smallest size, how the panels share
extra width, a preview that grows, nothing clipped, and screenshots at exact sizes (written as
PNGs and looked at by people; FIQA_SCREENSHOT_DIR keeps them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fiqa_gui.cli.window_commands import parse_size  # noqa: E402
from fiqa_gui.core.errors import UserInputError  # noqa: E402
from fiqa_gui.gui.app import run_gui  # noqa: E402
from fiqa_gui.gui.cluster_table import COL_FLAGS, COL_NAME, COL_STATE  # noqa: E402
from fiqa_gui.gui.main_window import MIN_WINDOW  # noqa: E402

SMALL_SCREEN = (1280, 720)


@pytest.fixture
def out_dir(tmp_path):
    d = os.environ.get("FIQA_SCREENSHOT_DIR")
    return Path(d) if d else tmp_path


def _settle(w, size) -> None:
    w.resize(*size)
    w.share_width(size[0])
    for _ in range(3):
        QApplication.processEvents()


def test_the_window_fits_a_1280x720_screen_with_its_frame(window_factory, sample_project):
    w = window_factory(sample_project)
    assert MIN_WINDOW[0] <= SMALL_SCREEN[0] - 30 and MIN_WINDOW[1] <= SMALL_SCREEN[1] - 70
    hint = w.minimumSizeHint()
    assert hint.width() <= MIN_WINDOW[0] and hint.height() <= MIN_WINDOW[1], hint
    w.history_dock.show()  # the undo history does not make the window wider or taller
    QApplication.processEvents()
    hint = w.minimumSizeHint()
    assert hint.width() <= MIN_WINDOW[0] and hint.height() <= MIN_WINDOW[1], hint
    _settle(w, SMALL_SCREEN)
    assert (w.width(), w.height()) == SMALL_SCREEN


def test_panels_share_extra_width_and_grow_back(window_factory, sample_project):
    w = window_factory(sample_project)
    _settle(w, (1280, 720))
    small = w.splitter.sizes()
    _settle(w, (2560, 1440))
    large = w.splitter.sizes()
    assert all(b > a * 1.5 for a, b in zip(small, large, strict=True)), (small, large)
    # squeezed to the minimum and enlarged again: the side panels come back (not stuck narrow)
    w.resize(w.minimumSizeHint().width(), 700)
    QApplication.processEvents()
    w.resize(2560, 1440)
    QApplication.processEvents()
    again = w.splitter.sizes()
    assert again[0] > 1.5 * w.clusters.minimumWidth() and again[2] > 700, again


def test_the_preview_grows_with_the_window(window_factory, sample_project):
    w = window_factory(sample_project)
    _settle(w, (1280, 720))
    assert w.wait_idle(20000)
    small = w.inspector.image.image_rect()
    _settle(w, (1920, 1080))
    QApplication.processEvents()
    large = w.inspector.image.image_rect()
    assert w.inspector.wide and not small.isEmpty()
    assert large.height() > 1.4 * small.height() and large.height() >= 250, (small, large)


def test_cluster_table_keeps_flags_and_state_in_view_when_narrow(window_factory,
                                                                 sample_project):
    w = window_factory(sample_project)
    table = w.clusters.table
    hh = table.horizontalHeader()
    for width in (230, 300, 520):
        w.splitter.setSizes([width, 600, 600])
        QApplication.processEvents()
        room = table.viewport().width()
        for col in (COL_NAME, COL_FLAGS, COL_STATE):
            assert not hh.isSectionHidden(col)
            right = hh.sectionViewportPosition(col) + hh.sectionSize(col)
            assert right <= room + 1, (width, col, right, room)
        assert hh.sectionSize(COL_NAME) >= 50
    assert all(not hh.isSectionHidden(c) for c in range(hh.count()))  # wide: every column


def test_annotation_editor_labels_are_not_cut(window_factory, sample_project):
    w = window_factory(sample_project)
    _settle(w, SMALL_SCREEN)
    ed = w.inspector.editor
    for widget in (ed.tier, ed.seed, ed.wrong):
        assert widget.width() >= widget.sizeHint().width(), widget


def test_sdd_legend_and_w1_label_stay_off_the_bars(window_factory, sample_project):
    w = window_factory(sample_project)
    assert w.wait_idle(20000)
    plot = w.inspector.similarity
    assert plot.picture is not None and plot.picture_of == w.gallery.current_id()
    assert plot.getPlotItem().legend is None  # no legend item inside the plot
    assert "n=" in plot.legend_label.text() and plot.legend_label.isVisible()
    top = max(plot.pos_heights.max(), plot.neg_heights.max())
    assert plot.w1_text.pos().y() > top  # W1 label above every bar
    (_, _), (y0, y1) = plot.getPlotItem().vb.viewRange()
    label_px = plot.w1_text.boundingRect().height()
    px_per_unit = plot.getPlotItem().vb.height() / (y1 - y0)
    assert plot.w1_text.pos().y() + label_px / px_per_unit <= y1 * 1.01  # and inside the plot


def test_details_start_at_the_top_for_each_image(window_factory, sample_project):
    w = window_factory(sample_project)
    _settle(w, SMALL_SCREEN)
    bar = w.inspector.details_scroll.verticalScrollBar()
    assert bar.maximum() > 0  # the text is longer than the pane at this size
    bar.setValue(bar.maximum())
    w.gallery.step_image(1)
    assert bar.value() == 0


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size("1920×1080") == (1920, 1080)
    assert parse_size(None) is None
    for bad in ("1280", "axb", "10x10", "1280x720x3"):
        with pytest.raises(UserInputError):
            parse_size(bad)


def test_cli_rejects_a_bad_size(capsys, sample_project, tmp_path):
    from fiqa_gui.cli import main

    assert main(["gui", str(sample_project), "--screenshot", str(tmp_path / "x.png"),
                 "--size", "big"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_screenshot_at_an_exact_size(qtbot, sample_project, out_dir, size):
    path = out_dir / f"main_window_{size[0]}x{size[1]}.png"
    assert run_gui(sample_project, screenshot=path, size=size) == 0
    img = QImage(str(path))
    assert (img.width(), img.height()) == size
    # every panel drew something: no large region of the picture is one flat colour
    gray = img.convertToFormat(QImage.Format.Format_Grayscale8)
    arr = np.frombuffer(gray.constBits(), np.uint8).reshape(
        gray.height(), gray.bytesPerLine())[:, :gray.width()]
    h, w = arr.shape
    for x0, x1 in ((0, w // 5), (w // 4, w // 2), (int(w * 0.65), w)):
        region = arr[h // 8: h * 3 // 4, x0:x1]
        assert region.std() > 10, (size, x0, x1)
