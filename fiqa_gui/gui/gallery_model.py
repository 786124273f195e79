"""List model over one cluster's ranked image ids; thumbnails arrive from the `ThumbnailLoader`.

`data()` never touches the disk: it answers a placeholder at once and asks the loader, which
later reports the id; the model then emits `dataChanged` for the rows on screen.
"""

from __future__ import annotations

import html
import math
from pathlib import PurePath
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from fiqa_gui.core.review.clusters import image_flags
from fiqa_gui.core.review.codes import SEED_NAMES, TIER_NAMES, TIER_NONE, score_title
from fiqa_gui.core.review.review_data import ReviewData
from fiqa_gui.core.review.score_columns import image_scores
from fiqa_gui.gui.flag_icons import flag_title, ordered
from fiqa_gui.gui.thumbnail_loader import FAILED, ThumbnailLoader

# Showing more images than this, rows are found through a dataset-sized array, else a dict.
DENSE_ROWS_FROM = 50_000
TILE_ROLE = Qt.ItemDataRole.UserRole + 1
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 2


class Tile(NamedTuple):
    """Everything the delegate paints for one image, fetched with one `data()` call."""

    image_id: int
    score: float
    tier: int            # the tier shown: the curator's where set, else the computed one
    flags: tuple[str, ...]
    unreadable: bool
    pixmap: object  # QPixmap, thumbnail_loader.FAILED, or None while loading
    curated: bool = False    # the tier is the curator's
    corrected: float = math.nan  # the curator's corrected score
    wrong: bool = False      # marked wrong identity
    seed: int = 0            # SEED_* code
    note: bool = False
    by: str = ""             # the score on the badge
    group: int = 0           # 1-based sub-cluster group in the shown cluster (0: not grouped)
    cluster: str = ""        # the image's cluster name (views across clusters show it)


PERCENT_SCALE = frozenset({"sdd", "sdd_signed", "quality", "iq"})
"""Scores on a 0–100 scale: one decimal whatever their size (8.9 next to 80.2, not 8.954)."""


def format_score(value: float, name: str | None = None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if name in PERCENT_SCALE:
        return f"{value:.1f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


class GalleryModel(QAbstractListModel):
    """Rows = image ids (one cluster's, or any across the dataset), in the order shown.

    The rows are one numpy array; an image's row is found through a dict while few images
    are shown (a cluster) and through a dataset-sized row-of-image array when many are (no
    Python object per row then), so a million images cost two arrays and a cluster of a
    million-image project costs no 8 MB array; `data()` builds a tile only for what is
    painted."""

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.review: ReviewData | None = None
        self.by = "sdd"
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows = np.zeros(0, dtype=np.int64)  # row of each image id, -1 when not shown
        self._row: dict[int, int] | None = {}  # image id -> row, instead, for few images
        self._values: np.ndarray | None = None
        self.groups: dict[int, int] | None = None  # image id -> sub-cluster group (1-based)
        self.cluster_names = False  # tiles carry their cluster's name
        loader.ready.connect(self._on_ready)

    # ----------------------------------------------------------------- content
    def set_review(self, review: ReviewData | None) -> None:
        self.beginResetModel()
        self.review = review
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows = np.zeros(0, dtype=np.int64)
        self._row = {}
        self._values = None
        self.endResetModel()

    def show(self, ids: np.ndarray, by: str) -> None:
        """Show these image ids, in this order, with score `by` on the badges."""
        self.beginResetModel()
        old, was_dense = self._ids, self._row is None
        self._ids = np.asarray(ids, dtype=np.int64)
        if len(self._ids) <= DENSE_ROWS_FROM:
            self._row = dict(zip(self._ids.tolist(), range(len(self._ids)), strict=True))
        else:
            n = self.review.n_images if self.review is not None else 0
            n = max(n, int(self._ids.max()) + 1)
            if was_dense and len(self._rows) == n:  # clear only the rows shown before
                self._rows[old[(old >= 0) & (old < n)]] = -1
            else:
                self._rows = np.full(n, -1, dtype=np.int64)
            self._rows[self._ids] = np.arange(len(self._ids), dtype=np.int64)
            self._row = None
        self.by = by
        rv = self.review
        if rv is not None and rv.scores is not None and by in rv.scores:
            self._values = np.asarray(rv.scores[by], dtype=float)
        else:
            self._values = None
        self.endResetModel()

    def refresh_images(self, image_ids) -> None:
        """Repaint the tiles of these images (their annotations changed in the store)."""
        rows = self.rows_of(image_ids)
        rows = rows[rows >= 0]
        if len(rows):
            self.dataChanged.emit(self.index(int(rows.min())), self.index(int(rows.max())),
                                  [TILE_ROLE, Qt.ItemDataRole.ToolTipRole])

    def ids(self) -> np.ndarray:
        return self._ids

    def image_id(self, row: int) -> int:
        return int(self._ids[row])

    def row_of(self, image_id: int) -> int:
        """Row of an image, or -1 if it is not shown."""
        i = int(image_id)
        if self._row is not None:
            return self._row.get(i, -1)
        return int(self._rows[i]) if 0 <= i < len(self._rows) else -1

    def rows_of(self, image_ids) -> np.ndarray:
        """Rows of several images (-1 where not shown)."""
        ids = np.asarray(list(image_ids) if not isinstance(image_ids, np.ndarray)
                         else image_ids, dtype=np.int64)
        if self._row is not None:
            get = self._row.get
            return np.fromiter((get(i, -1) for i in ids.tolist()), np.int64, len(ids))
        out = np.full(len(ids), -1, dtype=np.int64)
        ok = (ids >= 0) & (ids < len(self._rows))
        out[ok] = self._rows[ids[ok]]
        return out

    def path_of(self, image_id: int) -> str:
        return str(self.review.dataset.absolute_path(image_id))

    # ----------------------------------------------------------------- Qt model
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._ids)

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.review is None:
            return None
        i = int(self._ids[index.row()])
        if role == TILE_ROLE:
            return self._tile(i)
        if role == IMAGE_ID_ROLE:
            return i
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self.loader.get(i, self.path_of(i))
            return pix if pix is not None and pix is not FAILED else None
        if role == Qt.ItemDataRole.DisplayRole:
            return PurePath(self.review.dataset.paths[i]).name
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(i)
        return None

    def _tile(self, i: int) -> Tile:
        rv = self.review
        a = rv.annotations
        score = float(self._values[i]) if self._values is not None else math.nan
        mine = int(a.tier[i])
        tier = mine if mine != TIER_NONE else int(rv.computed_tiers()[i])
        flags = (tuple(ordered(image_flags(rv.scores["flags"][i])))
                 if rv.scores is not None else ())
        unreadable = bool(rv.dataset.unreadable[i])
        pixmap = None if unreadable else self.loader.get(i, self.path_of(i))
        return Tile(i, score, tier, flags, unreadable, pixmap, mine != TIER_NONE,
                    float(a.corrected[i]), bool(a.wrong[i]), int(a.seed[i]),
                    int(i) in a.notes, self.by,
                    self.groups.get(int(i), 0) if self.groups is not None else 0,
                    rv.summaries.names[int(rv.labels[i])] if self.cluster_names else "")

    def _tooltip(self, i: int) -> str:
        rv = self.review
        a = rv.annotations
        e = html.escape
        lines = [f"<b>{e(rv.dataset.paths[i])}</b>"]
        if self.cluster_names:
            lines.append(f"cluster <b>{e(rv.summaries.names[int(rv.labels[i])])}</b>")
        for name, value in image_scores(rv.scores, i, rv.score_names)[:4]:
            lines.append(f"{e(score_title(name))}: {format_score(value, name)}")
        if a.tier[i] != TIER_NONE:
            lines.append(f"tier: <b>{TIER_NAMES[int(a.tier[i])]}</b> (set by you; dataset "
                         f"band: {TIER_NAMES[int(rv.computed_tiers()[i])]})")
        elif rv.tier_source:
            lines.append(f"dataset band: {TIER_NAMES[int(rv.computed_tiers()[i])]} "
                         f"({e(score_title(rv.tier_source))} thirds of the whole dataset)")
        if np.isfinite(a.corrected[i]):
            lines.append(f"corrected score: <b>{a.corrected[i]:g}</b>")
        if a.wrong[i]:
            lines.append("<span style='color:#d7301f'><b>marked wrong identity</b></span>")
        if a.seed[i]:
            lines.append(f"seed: {SEED_NAMES[int(a.seed[i])]}")
        if int(i) in a.notes:
            lines.append(f"note: {e(a.notes[int(i)])}")
        flags = rv.flags_of(i)
        if flags:
            lines.append("flags: " + e(", ".join(flag_title(f) for f in ordered(flags))))
        if rv.dataset.unreadable[i]:
            lines.append("<span style='color:#d7301f'>unreadable file</span>")
        return "<br>".join(lines)

    # ----------------------------------------------------------------- loader
    def _on_ready(self, ids: list[int]) -> None:
        rows = self.rows_of(ids)
        rows = rows[rows >= 0]
        if not len(rows):
            return
        # One range: the view repaints what is visible of it in one pass.
        self.dataChanged.emit(self.index(int(rows.min())), self.index(int(rows.max())),
                              [Qt.ItemDataRole.DecorationRole, TILE_ROLE])

