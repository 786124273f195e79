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

from fiqa_gui.core.review import (
    TIER_NAMES,
    ReviewData,
    image_flags,
    image_scores,
    score_title,
)
from fiqa_gui.gui.thumbnail_loader import FAILED, ThumbnailLoader

TILE_ROLE = Qt.ItemDataRole.UserRole + 1
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 2


class Tile(NamedTuple):
    """Everything the delegate paints for one image, fetched with one `data()` call."""

    image_id: int
    score: float
    tier: int
    flags: tuple[str, ...]
    unreadable: bool
    pixmap: object  # QPixmap, thumbnail_loader.FAILED, or None while loading


def format_score(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


class GalleryModel(QAbstractListModel):
    """Rows = image ids of the shown cluster, in ranked (and range-filtered) order."""

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.review: ReviewData | None = None
        self.by = "sdd"
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_of: dict[int, int] = {}
        self._values: np.ndarray | None = None
        self._tiers: np.ndarray | None = None
        loader.ready.connect(self._on_ready)

    # ----------------------------------------------------------------- content
    def set_review(self, review: ReviewData | None) -> None:
        self.beginResetModel()
        self.review = review
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_of = {}
        self._values = self._tiers = None
        self.endResetModel()

    def show(self, ids: np.ndarray, by: str) -> None:
        """Show these image ids, in this order, with score `by` on the badges."""
        self.beginResetModel()
        self._ids = np.asarray(ids, dtype=np.int64)
        self._row_of = {int(i): r for r, i in enumerate(self._ids)}
        self.by = by
        rv = self.review
        if rv is not None and rv.scores is not None and by in rv.scores:
            self._values = np.asarray(rv.scores[by], dtype=float)
        else:
            self._values = None
        self._tiers = rv.tiers(by) if rv is not None else None
        self.endResetModel()

    def ids(self) -> np.ndarray:
        return self._ids

    def image_id(self, row: int) -> int:
        return int(self._ids[row])

    def row_of(self, image_id: int) -> int:
        """Row of an image, or -1 if it is not shown."""
        return self._row_of.get(int(image_id), -1)

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
        score = float(self._values[i]) if self._values is not None else math.nan
        tier = int(self._tiers[i]) if self._tiers is not None else -1
        flags = tuple(image_flags(rv.scores["flags"][i])) if rv.scores is not None else ()
        unreadable = bool(rv.dataset.unreadable[i])
        pixmap = None if unreadable else self.loader.get(i, self.path_of(i))
        return Tile(i, score, tier, flags, unreadable, pixmap)

    def _tooltip(self, i: int) -> str:
        rv = self.review
        lines = [f"<b>{html.escape(rv.dataset.paths[i])}</b>"]
        for name, value in image_scores(rv.scores, i, rv.score_names):
            lines.append(f"{html.escape(score_title(name))}: {format_score(value)}")
        tier = int(self._tiers[i]) if self._tiers is not None else -1
        lines.append(f"tier (from {score_title(self.by)} terciles): {TIER_NAMES[tier]}")
        flags = rv.flags_of(i)
        if flags:
            lines.append("flags: " + html.escape(", ".join(flags)))
        if rv.dataset.unreadable[i]:
            lines.append("<span style='color:#d7301f'>unreadable file</span>")
        return "<br>".join(lines)

    # ----------------------------------------------------------------- loader
    def _on_ready(self, ids: list[int]) -> None:
        rows = [r for r in (self._row_of.get(i, -1) for i in ids) if r >= 0]
        if not rows:
            return
        # One range: the view repaints what is visible of it in one pass.
        self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)),
                              [Qt.ItemDataRole.DecorationRole, TILE_ROLE])

