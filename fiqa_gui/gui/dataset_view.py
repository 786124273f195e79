"""Galleries over the whole dataset: every flagged image across clusters (by flag kind), or every
image ranked by one score. The same panel, model, tiles, keys and preview as the cluster
gallery (`GalleryPanel`), over the order `core.review.dataset_views` computes; each tile
carries its cluster's name. Rows are one index array, so a million images stay fast.
"""

from __future__ import annotations

import html

import numpy as np

from fiqa_gui.core.review.codes import score_title
from fiqa_gui.core.review.dataset_views import (
    BY_CLUSTER,
    FlagIndex,
    flagged_view,
    next_in,
    ranked_view,
)
from fiqa_gui.gui.flag_icons import flag_title
from fiqa_gui.gui.gallery_view import ANY, FLAGGED, GalleryPanel
from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader

FLAGGED_VIEW, RANKED_VIEW = "flagged", "ranked"


class DatasetPanel(GalleryPanel):
    """A `GalleryPanel` over the dataset instead of one cluster. It is filled (`fill`) when it
    is first shown, not when the project opens: a million-image order costs a fraction of a
    second that a curator who never opens it should not wait for."""

    def __init__(self, loader: ThumbnailLoader, mode: str, thumb_px: int = 112,
                 parent=None) -> None:
        self.mode = mode
        self.flags: FlagIndex | None = None
        self.filled = False
        self._counted: tuple[object, int] | None = None  # (shown ids, their cluster count)
        super().__init__(loader, thumb_px, parent)
        self.model.cluster_names = True
        self.delegate.cluster_line = True
        self._apply_size(self.size_slider.value())
        self.run_label.hide()
        self.run_combo.hide()
        if mode == FLAGGED_VIEW:
            self.by = BY_CLUSTER
            self.flag_combo.setToolTip("Which kind of flag to show")
            self.rank_combo.setToolTip("Order of the flagged images (R)")
        else:
            self.flag_combo.setToolTip("Show only flagged images (F jumps to the next one)")
            self.rank_combo.setToolTip("Score every image of the dataset is ranked by (S)")

    # ----------------------------------------------------------------- what is shown
    def within(self) -> str:
        """The score inside a cluster when the flagged view goes cluster by cluster."""
        names = self.review.rankable if self.review is not None else ()
        return "quality" if "quality" in names else (names[0] if names else "sdd")

    def rank_choices(self) -> list[tuple[str, str]]:
        base = super().rank_choices()
        if self.mode == FLAGGED_VIEW and self.review is not None \
                and self.review.scores is not None:
            return [(f"Cluster, then {score_title(self.within())}", BY_CLUSTER), *base]
        return base

    def has_content(self) -> bool:
        return self.filled and self.review is not None and self.review.scores is not None

    def badge_score(self) -> str:
        return self.within() if self.by == BY_CLUSTER else self.by

    def set_review(self, review) -> None:
        self.flags = None
        self.filled = False
        self._counted = None
        if self.mode == FLAGGED_VIEW:
            self.by = BY_CLUSTER
        super().set_review(review)
        self.model.show(np.zeros(0, dtype=np.int64), self.badge_score())

    def fill(self, flags: FlagIndex | None) -> None:
        """Compute the order and show it (keeps the current image where it still is)."""
        if self.review is None or self.review.scores is None:
            return
        keep = self.current_id() if self.filled else -1
        self.flags = flags
        self.filled = True
        self._counted = None
        self._fill_flag_combo()
        self._ranked = self._rank()
        self._show(keep=keep if keep >= 0 else None)

    def _rank(self) -> np.ndarray:
        rv = self.review
        self.model.groups = None
        if rv is None or rv.scores is None or self.flags is None:
            return np.zeros(0, dtype=np.int64)
        if self.mode == FLAGGED_VIEW:
            return flagged_view(self.flags, rv.scores, rv.labels, None, self.by,
                                self.descending, within=self.within())
        return ranked_view(rv.scores, self.by, self.descending)

    def present_flags(self) -> set[str]:
        return set(self.flags.image_flags()) if self.flags is not None else set()

    def flag_heads(self) -> list[tuple[str, str]]:
        if self.mode == FLAGGED_VIEW:
            return [("Every flag kind", ANY)]
        return super().flag_heads()

    def flag_label(self, flag: str) -> str:
        n = self.flags.count(flag) if self.flags is not None else 0
        return f"{flag_title(flag)} ({n:,})"

    def flag_mask(self, ids: np.ndarray, flag: str | None) -> np.ndarray:
        if self.flags is None:
            return np.zeros(len(ids), dtype=bool)
        return self.flags.mask(flag)[ids]

    # ----------------------------------------------------------------- moving around
    def next_flagged(self) -> bool:
        """The next shown image with an image-level flag (F), wrapping around."""
        ids = self.model.ids()
        if self.flags is None or not len(ids):
            return False
        row = next_in(ids, self.flags.mask(None), self.view.currentIndex().row())
        return row >= 0 and self.select_image(int(ids[row]))

    # ----------------------------------------------------------------- the info line
    def _update_info(self) -> None:
        rv = self.review
        if not self.has_content():
            self.info.setText("" if rv is None else "<i>not scored yet</i>"
                              if rv.scores is None else "")
            return
        shown = self.model.ids()
        if self._counted is None or self._counted[0] is not shown:
            clusters = len(np.unique(rv.labels[shown])) if len(shown) else 0
            self._counted = (shown, clusters)
        clusters = self._counted[1]
        total = len(self._ranked)
        what = score_title(self.badge_score())
        order = "highest first" if self.descending else "lowest first"
        if self.mode == FLAGGED_VIEW:
            kind = ("" if self.flag_filter in (ANY, FLAGGED)
                    else f" {html.escape(flag_title(self.flag_filter))}")
            text = (f"<b>{len(shown):,}{kind} flagged image(s)</b> in {clusters:,} cluster(s)"
                    + (f" (of {total:,} flagged)" if len(shown) != total else "")
                    + (f" · cluster by cluster, {html.escape(what)} {order}"
                       if self.by == BY_CLUSTER else f" · by {html.escape(what)}, {order}"))
        else:
            text = (f"<b>{len(shown):,} of {total:,} images</b>" if len(shown) != total
                    else f"<b>all {total:,} images</b>")
            text += f" ({clusters:,} clusters) · by {html.escape(what)}, {order}"
        n_sel = len(self._selected_rows())
        if n_sel > 1:
            text += f" · {n_sel:,} selected"
        self.info.setText(text)
