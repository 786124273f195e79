"""SDD vs CR for the shown cluster: click a point to select its image; selected images are
highlighted. Where the two labels disagree (SPEC §5) is where a curator should look."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Signal

from fiqa_gui.gui.theme import HIGHLIGHT_COLOUR, POINT_COLOUR, style_plot


class ScoreScatterPlot(pg.PlotWidget):
    """One point per image of the cluster; `image_clicked` carries the image id."""

    image_clicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.15)
        self.points = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None),
                                         brush=pg.mkBrush(POINT_COLOUR), hoverable=True,
                                         hoverSize=10, tip=self._tip)
        self.selected = pg.ScatterPlotItem(size=11, pen=pg.mkPen(HIGHLIGHT_COLOUR, width=2),
                                           brush=pg.mkBrush(None))
        self.current = pg.ScatterPlotItem(size=13, symbol="o", pen=pg.mkPen(None),
                                          brush=pg.mkBrush(HIGHLIGHT_COLOUR))
        self.current.setZValue(5)
        for name in ("left", "bottom"):
            item.getAxis(name).enableAutoSIPrefix(False)
        self.addItem(self.points)
        self.addItem(self.selected)
        self.addItem(self.current)
        self.message = pg.TextItem(anchor=(0.5, 0.5), color="#808080")
        self.message.setPos(0.5, 0.5)
        self.message.setVisible(False)
        self.addItem(self.message)
        self.points.sigClicked.connect(self._on_click)
        self.ids = np.zeros(0, dtype=np.int64)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self._pos: dict[int, int] = {}
        self.x_name, self.y_name = "SDD", "CR"
        self.title = ""
        self.highlighted = np.zeros(0, dtype=np.int64)

    def apply_theme(self, dark: bool) -> None:
        style_plot(self, dark)

    def _tip(self, x, y, data):
        return f"image #{data}\n{self.x_name} {x:.3g}\n{self.y_name} {y:.3g}\nclick to select"

    def show_points(self, ids: np.ndarray, x: np.ndarray, y: np.ndarray, x_name: str,
                    y_name: str, title: str) -> None:
        """Points for the images with both values finite (the others cannot be placed)."""
        ids = np.asarray(ids, dtype=np.int64)
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        self.ids, self.x, self.y = ids[ok], x[ok], y[ok]
        self.x_name, self.y_name = x_name, y_name
        self._pos = {int(i): k for k, i in enumerate(self.ids)}
        self.points.setData(x=self.x, y=self.y, data=self.ids)
        self.setLabel("bottom", x_name)
        self.setLabel("left", y_name)
        missing = int((~ok).sum())
        self.title = title + (f" ({missing} without both scores)" if missing else "")
        self.selected.setData([], [])
        self.current.setData([], [])
        self.highlighted = np.zeros(0, dtype=np.int64)
        if len(self.ids):
            self.message.setVisible(False)
            self.getPlotItem().enableAutoRange()
        else:
            self.message.setText("not scored yet" if "not scored" in title
                                 else "no image has both scores")
            self.message.setVisible(True)
            self.setXRange(0, 1, padding=0)
            self.setYRange(0, 1, padding=0)

    def highlight(self, ids) -> None:
        """Ring the points of these images (the gallery selection)."""
        keep = [self._pos[int(i)] for i in ids if int(i) in self._pos]
        self.highlighted = self.ids[keep] if keep else np.zeros(0, dtype=np.int64)
        self.selected.setData(self.x[keep], self.y[keep])

    def mark_current(self, image_id: int) -> None:
        k = self._pos.get(int(image_id))
        if k is None:
            self.current.setData([], [])
        else:
            self.current.setData([self.x[k]], [self.y[k]])

    def _on_click(self, _item, points, _ev=None) -> None:
        if len(points):
            self.image_clicked.emit(int(points[0].data()))

    def widget_pos_of(self, image_id: int) -> QPoint | None:
        """Where a point is drawn, in widget coordinates (tests click there)."""
        k = self._pos.get(int(image_id))
        if k is None:
            return None
        vb = self.getPlotItem().getViewBox()
        scene = vb.mapViewToScene(pg.Point(self.x[k], self.y[k]))
        return self.mapFromScene(scene)
