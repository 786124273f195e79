"""The picture that explains an SDD score: the image's similarities to its own cluster
(positives) and to other clusters (negatives) as two histograms, their means marked, and the
Wasserstein-1 distance between them drawn as the gap the score measures."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QSizePolicy

from fiqa_gui.core.review.similarity import SimilarityPicture
from fiqa_gui.gui.theme import NEGATIVE_COLOUR, POSITIVE_COLOUR, plot_colours, style_plot


def _alpha(colour: QColor, a: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(a)
    return c


def shared_bins(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """One set of bin edges for both sets, so bar heights compare directly."""
    both = np.concatenate([pos, neg])
    lo, hi = float(both.min()), float(both.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 0.05, hi + 0.05
    n_bins = int(np.clip(round(math.sqrt(len(both)) * 1.5), 8, 40))
    return np.linspace(lo, hi, n_bins + 1)


class SimilarityPlot(pg.PlotWidget):
    """Positive/negative similarity histograms of one image, with W1 annotated."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.dark = False
        self.picture: SimilarityPicture | None = None
        self._title = ""
        self.pos_values = np.zeros(0)
        self.neg_values = np.zeros(0)
        self.edges = np.zeros(0)
        self.pos_heights = self.neg_heights = np.zeros(0)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=False, alpha=0.15)
        self.setLabel("bottom", "cosine similarity to the image")
        self.setLabel("left", "share")
        for name in ("left", "bottom"):
            item.getAxis(name).enableAutoSIPrefix(False)
        self.setMouseEnabled(x=False, y=False)
        # the legend is Qt text under the plot: inside it, it covered bars and the W1 label
        self.legend_label = QLabel()
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(False)
        self.legend_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.picture_of = -1  # the image the shown picture belongs to
        self.pos_curve = pg.PlotDataItem(
            stepMode="center", fillLevel=0, pen=pg.mkPen(POSITIVE_COLOUR, width=2),
            brush=_alpha(POSITIVE_COLOUR, 90), name="positives: same cluster")
        self.neg_curve = pg.PlotDataItem(
            stepMode="center", fillLevel=0, pen=pg.mkPen(NEGATIVE_COLOUR, width=2),
            brush=_alpha(NEGATIVE_COLOUR, 90), name="negatives: other clusters")
        self.addItem(self.neg_curve)
        self.addItem(self.pos_curve)
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self.pos_mean = pg.InfiniteLine(angle=90, movable=False,
                                        pen=pg.mkPen(POSITIVE_COLOUR, width=2, style=dash))
        self.neg_mean = pg.InfiniteLine(angle=90, movable=False,
                                        pen=pg.mkPen(NEGATIVE_COLOUR, width=2, style=dash))
        self.addItem(self.pos_mean)
        self.addItem(self.neg_mean)
        self.gap = pg.PlotDataItem(pen=pg.mkPen("#303030", width=1.5))
        self.addItem(self.gap)
        self.gap_left = pg.ArrowItem(angle=0, headLen=9, tipAngle=35, brush="#303030",
                                     pen=None)
        self.gap_right = pg.ArrowItem(angle=180, headLen=9, tipAngle=35, brush="#303030",
                                      pen=None)
        self.addItem(self.gap_left)
        self.addItem(self.gap_right)
        self.w1_text = pg.TextItem(anchor=(0.5, 1.0))
        self.addItem(self.w1_text)
        self.mean_text = pg.TextItem(anchor=(0, 0))
        self.message = pg.TextItem(anchor=(0.5, 0.5))
        self.addItem(self.message)
        self.show_message("Select an image to see why it got its SDD score.")

    # -----------------------------------------------------------------------------------
    def _fg(self) -> str:
        return plot_colours(self.dark)[1]

    def apply_theme(self, dark: bool) -> None:
        self.dark = dark
        style_plot(self, dark)
        fg = self._fg()
        self.gap.setPen(pg.mkPen(fg, width=1.5))
        for arrow in (self.gap_left, self.gap_right):
            arrow.setBrush(pg.mkBrush(fg))
        if self.picture is not None:
            self.show_picture(self.picture, self._title)
        else:
            self.message.setColor(fg)

    def _set_visible(self, visible: bool) -> None:
        for it in (self.pos_curve, self.neg_curve, self.pos_mean, self.neg_mean, self.gap,
                   self.gap_left, self.gap_right, self.w1_text):
            it.setVisible(visible)
        if not visible:
            self.legend_label.setText("")

    def show_message(self, text: str) -> None:
        """No picture: explain why (no scores yet, a singleton, loading…)."""
        self.picture = None
        self.picture_of = -1
        self.pos_values = self.neg_values = self.edges = np.zeros(0)
        self.pos_heights = self.neg_heights = np.zeros(0)
        self._set_visible(False)
        self.message.setText(text, color=self._fg())
        self.message.setVisible(True)
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)
        self.message.setPos(0.5, 0.5)

    def show_picture(self, pic: SimilarityPicture, title: str = "") -> None:
        """Draw the two sets of `pic` (the exact arrays, kept in `pos_values`/`neg_values`)."""
        self._title = title
        if len(pic.pos) == 0 or len(pic.neg) == 0:
            self.show_message("No positives: the image is alone in its cluster, so SDD is "
                              "undefined." if len(pic.pos) == 0 else "No negatives.")
            return
        self.picture = pic
        self.pos_values, self.neg_values = pic.pos, pic.neg
        self.edges = shared_bins(pic.pos, pic.neg)
        # Each set as shares of itself, so sets of different sizes (exact mode: every other
        # image as a negative) compare by shape, which is what W1 measures.
        pos_counts = np.histogram(pic.pos, self.edges)[0] / len(pic.pos)
        neg_counts = np.histogram(pic.neg, self.edges)[0] / len(pic.neg)
        self.pos_heights, self.neg_heights = pos_counts, neg_counts
        self.pos_curve.setData(self.edges, pos_counts)
        self.neg_curve.setData(self.edges, neg_counts)
        self.pos_curve.opts["name"] = f"positives: same cluster (n={len(pic.pos)}, " \
            f"mean {pic.pos_mean:.2f})"
        self.neg_curve.opts["name"] = f"negatives: other clusters (n={len(pic.neg)}, " \
            f"mean {pic.neg_mean:.2f})"
        self.legend_label.setText(
            f"<small><span style='color:{POSITIVE_COLOUR.name()}'>■</span> positives (same "
            f"cluster) n={len(pic.pos)}, mean {pic.pos_mean:.2f} &nbsp; "
            f"<span style='color:{NEGATIVE_COLOUR.name()}'>■</span> negatives (other "
            f"clusters) n={len(pic.neg)}, mean {pic.neg_mean:.2f}</small>")
        self.legend_label.setToolTip(
            f"positives: the image's cosine similarity to {len(pic.pos)} images of its own "
            f"cluster; negatives: to {len(pic.neg)} images of other clusters; W1 = "
            f"{pic.w1:.3f} is the distance between the two")
        self.pos_mean.setValue(pic.pos_mean)
        self.neg_mean.setValue(pic.neg_mean)
        top = float(max(pos_counts.max(), neg_counts.max()))
        y = top * 1.1
        x0, x1 = sorted((pic.neg_mean, pic.pos_mean))
        self.gap.setData([x0, x1], [y, y])
        self.gap_left.setPos(x0, y)
        self.gap_right.setPos(x1, y)
        fg = self._fg()
        self.w1_text.setHtml(
            f"<div style='color:{fg}; font-weight:bold'>W1 = {pic.w1:.3f}</div>")
        self.w1_text.setPos((x0 + x1) / 2, y + top * 0.02)
        self.message.setVisible(False)
        self._set_visible(True)
        span = self.edges[-1] - self.edges[0]
        self.setXRange(self.edges[0] - 0.05 * span, self.edges[-1] + 0.05 * span, padding=0)
        self._top = top
        self._fit_y()

    def _fit_y(self) -> None:
        """Room above the tallest bar for the W1 arrow and its label (about 30 px whatever
        the plot's height), so the label never sits on a bar or leaves the plot."""
        if getattr(self, "picture", None) is None:
            return
        px = max(60.0, float(self.getPlotItem().vb.height() or 150))
        self.setYRange(0, self._top * 1.1 / max(0.4, 1.0 - 30.0 / px), padding=0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_y()
