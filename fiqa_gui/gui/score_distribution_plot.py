"""The cluster's distribution of the ranking score; dragging the region filters the gallery."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor

from fiqa_gui.gui.theme import HIGHLIGHT_COLOUR, POINT_COLOUR, style_plot


class ScoreDistributionPlot(pg.PlotWidget):
    """Histogram of one score over the shown cluster, a range region, the current image's mark."""

    range_changed = Signal(float, float)  # the user finished dragging the region
    range_cleared = Signal()  # the region covers every value again

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        self.setLabel("left", "images")
        for name in ("left", "bottom"):
            item.getAxis(name).enableAutoSIPrefix(False)
        fill = QColor(POINT_COLOUR)
        fill.setAlpha(110)
        self.bars = pg.PlotDataItem(stepMode="center", fillLevel=0,
                                    pen=pg.mkPen(POINT_COLOUR, width=1.5), brush=fill)
        self.addItem(self.bars)
        region_brush = QColor(HIGHLIGHT_COLOUR)
        region_brush.setAlpha(28)
        self.region = pg.LinearRegionItem(brush=region_brush, swapMode="sort")
        self.region.setZValue(-10)
        self.region.setToolTip("Drag the edges to show only images in this score range")
        self.addItem(self.region)
        self.current = pg.InfiniteLine(angle=90, movable=False,
                                       pen=pg.mkPen(HIGHLIGHT_COLOUR, width=2))
        self.addItem(self.current)
        self.values = np.zeros(0)
        self.name = ""
        self.title = ""
        self.full: tuple[float, float] = (0.0, 1.0)
        self.message = pg.TextItem(anchor=(0.5, 0.5), color="#808080")
        self.message.setPos(0.5, 0.5)
        self.message.setVisible(False)
        self.addItem(self.message)
        self.region.sigRegionChangeFinished.connect(self._on_region)

    def apply_theme(self, dark: bool) -> None:
        style_plot(self, dark)

    def show_values(self, values: np.ndarray, name: str, title: str) -> None:
        """Histogram of `values` (NaN ignored); the region is reset to cover them all."""
        self.values = np.asarray(values, dtype=float)
        self.name = name
        finite = self.values[np.isfinite(self.values)]
        self.setLabel("bottom", name)
        self.title = title
        if len(finite) == 0:
            self.bars.setData([0, 1], [0])
            self.region.setVisible(False)
            self.current.setVisible(False)
            self.message.setText(f"no {name} values" if title != "not scored yet" else title)
            self.message.setVisible(True)
            self.setXRange(0, 1, padding=0)
            self.setYRange(0, 1, padding=0)
            return
        self.message.setVisible(False)
        lo, hi = float(finite.min()), float(finite.max())
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        n_bins = int(np.clip(round(math.sqrt(len(finite)) * 1.5), 5, 40))
        counts, edges = np.histogram(finite, bins=n_bins, range=(lo, hi))
        self.bars.setData(edges, counts)
        span = hi - lo
        self.full = (lo - 1e-9 * span, hi + 1e-9 * span)
        self.region.setVisible(True)
        self.region.blockSignals(True)
        self.region.setBounds((lo - 0.02 * span, hi + 0.02 * span))
        self.region.setRegion(self.full)
        self.region.blockSignals(False)
        self.setXRange(lo - 0.04 * span, hi + 0.04 * span, padding=0)
        self.setYRange(0, float(counts.max()) * 1.1, padding=0)

    def set_range(self, lo: float, hi: float, emit: bool = True) -> None:
        """Programmatic region (tests, restoring a filter); emits like a drag when `emit`."""
        self.region.blockSignals(not emit)
        self.region.setRegion((lo, hi))
        self.region.blockSignals(False)
        if emit:
            self._on_region()

    def reset_range(self) -> None:
        self.region.blockSignals(True)
        self.region.setRegion(self.full)
        self.region.blockSignals(False)

    def mark(self, value: float | None) -> None:
        ok = value is not None and math.isfinite(value)
        self.current.setVisible(ok)
        if ok:
            self.current.setValue(value)

    def _on_region(self, *_) -> None:
        lo, hi = self.region.getRegion()
        finite = self.values[np.isfinite(self.values)]
        if len(finite) == 0:
            return
        if lo <= finite.min() and hi >= finite.max():
            self.range_cleared.emit()
        else:
            self.range_changed.emit(float(lo), float(hi))
