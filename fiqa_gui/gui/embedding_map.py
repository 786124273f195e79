"""The embedding map: the shown cluster's images (or a seeded sample of the dataset) as points
on the first two principal axes of their embeddings, coloured by any score or flag. Linked
both ways with the gallery: a clicked point selects its image, selected images are ringed.

The projection is computed off the GUI thread (`core.review.embedding_map`); only the newest
request's result is drawn.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from fiqa_gui.core.review.codes import score_title
from fiqa_gui.core.review.dataset_views import FlagIndex
from fiqa_gui.core.review.embedding_map import (
    SAMPLE_SIZE,
    EmbeddingMap,
    colour_values,
    embedding_map,
    sample_ids,
)
from fiqa_gui.core.review.review_data import ReviewData
from fiqa_gui.gui.flag_icons import flag_title, ordered
from fiqa_gui.gui.gallery_delegate import GROUP_COLOURS
from fiqa_gui.gui.gallery_model import format_score
from fiqa_gui.gui.jobs import LatestOnly
from fiqa_gui.gui.score_scatter_plot import ScoreScatterPlot
from fiqa_gui.gui.theme import FLAG_COLOUR

CLUSTER_SCOPE, SAMPLE_SCOPE = "cluster", "sample"
FLAG_PREFIX, BY_CLUSTER_COLOUR = "flag:", "__cluster__"
ANY_FLAG = FLAG_PREFIX + "*"
N_COLOURS = 64
NO_VALUE = pg.mkBrush(160, 160, 160, 140)
UNFLAGGED = pg.mkBrush(120, 140, 170, 120)
FLAGGED_BRUSH = pg.mkBrush(FLAG_COLOUR)


def _ramp() -> list:
    lut = pg.colormap.get("viridis").getLookupTable(nPts=N_COLOURS, alpha=False)
    return [pg.mkBrush(int(r), int(g), int(b), 220) for r, g, b in lut]


class EmbeddingMapPlot(ScoreScatterPlot):
    """The scatter of the SDD-vs-CR plot (click, ring, current point), with one brush per point
    and a tooltip naming the image's cluster and colour value."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.describe = lambda image_id: f"image #{image_id}"
        self.getPlotItem().getViewBox().setAspectLocked(True)

    def _tip(self, x, y, data):
        return f"{self.describe(int(data))}\nclick to select"

    def show_map(self, m: EmbeddingMap, brushes: list, title: str) -> None:
        x_name = f"PC1 ({m.explained[0]:.0%} of the variance)"
        y_name = f"PC2 ({m.explained[1]:.0%})"
        super().show_points(m.ids, m.xy[:, 0], m.xy[:, 1], x_name, y_name, title)
        if len(brushes) == len(self.ids):
            self.points.setBrush(brushes)


class EmbeddingMapPanel(QWidget):
    """Scope (this cluster / a dataset sample), colour, the map and its legend."""

    image_clicked = Signal(int)
    drawn = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.review: ReviewData | None = None
        self.flags: FlagIndex | None = None
        self.cluster_id = -1
        self.map: EmbeddingMap | None = None
        self.active = False  # shown: computes only then
        self.stale = True
        self._embeddings = None
        self._highlighted: np.ndarray = np.zeros(0, dtype=np.int64)
        self._current = -1
        self._ramp = _ramp()
        self._async = LatestOnly(self)
        self.scope_combo = QComboBox()
        self.scope_combo.addItem("This cluster", CLUSTER_SCOPE)
        self.scope_combo.addItem(f"Dataset sample (≤ {SAMPLE_SIZE:,})", SAMPLE_SCOPE)
        self.scope_combo.setToolTip("Map the shown cluster, or a seeded random sample of the "
                                    "whole dataset")
        self.colour_combo = QComboBox()
        self.colour_combo.setToolTip("Colour the points by a score or a flag")
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.plot = EmbeddingMapPlot()
        self.plot.describe = self._describe
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Map"))
        bar.addWidget(self.scope_combo)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Colour by"))
        bar.addWidget(self.colour_combo)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.info)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        self.scope_combo.activated.connect(lambda _i: self.refresh(force=True))
        self.colour_combo.activated.connect(lambda _i: self.recolour())
        self.plot.image_clicked.connect(self.image_clicked)

    # ----------------------------------------------------------------- content
    @property
    def scope(self) -> str:
        return self.scope_combo.currentData()

    @property
    def colour_by(self) -> str:
        return self.colour_combo.currentData() or ""

    def set_review(self, review: ReviewData | None, flags: FlagIndex | None = None) -> None:
        self._async.forget()
        self.review, self.flags = review, flags
        self.cluster_id = -1
        self.map = None
        self.stale = True
        self._embeddings = None
        self._fill_colours()
        self.plot.show_points(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), "PC1", "PC2",
                              "")
        self.info.setText("")
        self.legend.setText("")

    def set_flags(self, flags: FlagIndex | None) -> None:
        """The run's flag index arrived: offer the flags as colours."""
        if flags is not self.flags:
            self.flags = flags
            self._fill_colours()
            self.recolour()

    def _fill_colours(self) -> None:
        review, flags = self.review, self.flags
        keep = self.colour_by
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        if review is not None and review.scores is not None:
            for name in review.score_names:
                self.colour_combo.addItem(score_title(name), name)
            self.colour_combo.addItem("Any flag", ANY_FLAG)
            for f in ordered(flags.image_flags() if flags is not None else []):
                self.colour_combo.addItem(f"Flag: {flag_title(f)}", FLAG_PREFIX + f)
        if review is not None:
            self.colour_combo.addItem("Cluster", BY_CLUSTER_COLOUR)
        default = keep or ("quality" if review is not None and review.scores is not None
                           and "quality" in review.score_names else "")
        self.colour_combo.setCurrentIndex(max(0, self.colour_combo.findData(default)))
        self.colour_combo.blockSignals(False)

    def set_cluster(self, cluster_id: int) -> None:
        if cluster_id != self.cluster_id:
            self.cluster_id = int(cluster_id)
            if self.scope == CLUSTER_SCOPE:
                self.stale = True
                self.refresh()

    def set_active(self, active: bool) -> None:
        self.active = active
        if active:
            self.refresh()

    def refresh(self, force: bool = False) -> None:
        """Compute the map of the scope (when shown and out of date) off the GUI thread."""
        if force:
            self.stale = True
        rv = self.review
        if not (self.active and self.stale) or rv is None:
            return
        if self.scope == CLUSTER_SCOPE and self.cluster_id < 0:
            return
        try:
            if self._embeddings is None:
                self._embeddings = rv.project.embeddings()
        except Exception as err:  # noqa: BLE001 - shown in the panel, not raised
            self.info.setText(f"<i>No map: {html.escape(str(err))}</i>")
            return
        if self._embeddings is None:
            self.info.setText("<i>No map: the project has no embeddings.</i>")
            return
        self.stale = False
        emb = self._embeddings
        if self.scope == CLUSTER_SCOPE:
            ids = rv.index.members(self.cluster_id).copy()
            what = (f"<b>{html.escape(rv.summaries.names[self.cluster_id])}</b> · "
                    f"{len(ids):,} images")
        else:
            ids = sample_ids(rv.n_images, SAMPLE_SIZE, seed=0)
            what = (f"<b>dataset sample</b> · {len(ids):,} of {rv.n_images:,} images "
                    "(seed 0)")
        self.info.setText(what + " · computing…")
        self._async.submit(lambda: embedding_map(emb, ids),
                           lambda m: self._drawn(m, what),
                           lambda err: self.info.setText(
                               f"<i>No map: {html.escape(str(err))}</i>"))

    def wait(self, msecs: int = -1) -> bool:
        return self._async.wait(msecs)

    def _drawn(self, m: EmbeddingMap, what: str) -> None:
        self.map = m
        self.info.setText(what + " · PCA of the L2-normalised embeddings · "
                          "<small>click a point to select its image</small>")
        self.recolour()
        self.drawn.emit()

    # ----------------------------------------------------------------- colour
    def recolour(self) -> None:
        m, rv = self.map, self.review
        if m is None or rv is None:
            return
        brushes, legend = self._brushes(m.ids)
        self.plot.show_map(m, brushes, "")
        self.plot.highlight(self._highlighted)
        self.plot.mark_current(self._current)
        self.legend.setText(legend)

    def _brushes(self, ids: np.ndarray) -> tuple[list, str]:
        rv, by = self.review, self.colour_by
        if by == BY_CLUSTER_COLOUR or rv.scores is None:
            labels = rv.labels[ids]
            n = len(np.unique(labels))
            palette = [pg.mkBrush(c) for c in GROUP_COLOURS]
            return ([palette[int(c) % len(palette)] for c in labels],
                    f"one colour per cluster ({n:,} clusters; colours repeat every "
                    f"{len(palette)})")
        if by.startswith(FLAG_PREFIX):
            flag = by[len(FLAG_PREFIX):]
            mask = (self.flags.mask(None if flag == "*" else flag)[ids]
                    if self.flags is not None else np.zeros(len(ids), bool))
            title = "any flag" if flag == "*" else flag_title(flag)
            return ([FLAGGED_BRUSH if f else UNFLAGGED for f in mask],
                    f"<span style='color:{FLAG_COLOUR.name()}'>●</span> {html.escape(title)} "
                    f"({int(mask.sum()):,}) · <span style='color:#788caa'>●</span> the others "
                    f"({int((~mask).sum()):,})")
        values = np.asarray(rv.scores[by], dtype=float)[ids]
        scaled, lo, hi = colour_values(values)
        k = np.where(np.isfinite(scaled), np.nan_to_num(scaled) * (N_COLOURS - 1), -1)
        k = k.astype(np.int64)
        ramp = self._ramp
        brushes = [ramp[j] if j >= 0 else NO_VALUE for j in k.tolist()]
        stops = "".join(f"<span style='color:{ramp[j].color().name()}'>█</span>"
                        for j in range(0, N_COLOURS, 8))
        missing = int((k < 0).sum())
        text = (f"{html.escape(score_title(by))}: {format_score(lo, by)} {stops} "
                f"{format_score(hi, by)} <small>(2nd–98th percentile)</small>")
        if missing:
            text += f" · <span style='color:#a0a0a0'>●</span> no value ({missing:,})"
        return brushes, text

    def _describe(self, image_id: int) -> str:
        rv = self.review
        if rv is None:
            return f"image #{image_id}"
        text = f"image #{image_id} · {rv.summaries.names[int(rv.labels[image_id])]}"
        by = self.colour_by
        if rv.scores is not None and by in rv.scores:
            text += f"\n{score_title(by)} {format_score(float(rv.scores[by][image_id]), by)}"
        return text

    # ----------------------------------------------------------------- linking
    def highlight(self, ids) -> None:
        self._highlighted = np.asarray(ids, dtype=np.int64)
        self.plot.highlight(self._highlighted)

    def mark_current(self, image_id: int) -> None:
        self._current = int(image_id)
        self.plot.mark_current(image_id)

    def apply_theme(self, dark: bool) -> None:
        self.plot.apply_theme(dark)

    def shutdown(self) -> None:
        self._async.forget()
        self._async.wait()
