"""The gallery panel: one cluster's images as ranked thumbnails, with rank, order, size, the run
shown, filters (tier, correction, flag) and the score-range filter the distribution plot sets."""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.review.codes import (
    CLUSTER_FLAGS,
    SEED_NAMES,
    TIER_HIGH,
    TIER_LOW,
    TIER_MID,
    TIER_NAMES,
    TIER_NONE,
    TIER_UNUSABLE,
    score_title,
)
from fiqa_gui.core.review.history import local_time
from fiqa_gui.core.review.review_data import ReviewData
from fiqa_gui.core.review.score_columns import image_scores, in_range
from fiqa_gui.gui.flag_icons import flag_icon, flag_title, ordered
from fiqa_gui.gui.gallery_delegate import GalleryDelegate
from fiqa_gui.gui.gallery_model import IMAGE_ID_ROLE, GalleryModel, format_score
from fiqa_gui.gui.preview import PreviewDialog
from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader

MIN_THUMB, MAX_THUMB = 48, 256
SPACING = 6
ANY = "__any__"
FLAGGED = "__flagged__"
TIER_FILTERS = (("Any tier", ANY), ("High", TIER_HIGH), ("Mid", TIER_MID), ("Low", TIER_LOW),
                ("Unusable", TIER_UNUSABLE), ("No tier", TIER_NONE))
CAPTION_SCORES = ("sdd", "sdd_signed", "cr", "iq", "quality")
CORRECTION_FILTERS = (("Corrected or not", ANY), ("Corrected by you", "corrected"),
                      ("Not corrected", "uncorrected"))


class GalleryView(QListView):
    """Icon-mode list tuned for thousands of uniform tiles; says when it has painted."""

    painted = Signal()
    preview_requested = Signal(int)  # row

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(400)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setDragEnabled(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.doubleClicked.connect(lambda idx: self.preview_requested.emit(idx.row()))

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        self.painted.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            idx = self.currentIndex()
            if idx.isValid():
                self.preview_requested.emit(idx.row())
                return
        super().keyPressEvent(event)


class GalleryPanel(QWidget):
    """Rank-by / order / size controls over a `GalleryView`, and the range filter."""

    current_changed = Signal(int)  # image id, -1 for none
    selection_changed = Signal(object)  # np.ndarray of selected image ids
    rank_changed = Signal(str, bool)  # score name, descending
    shown_changed = Signal()  # the set of shown images changed (cluster, rank, range, filter)
    run_selected = Signal(int)  # the curator picked another run to show

    def __init__(self, loader: ThumbnailLoader, thumb_px: int = 112, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.review: ReviewData | None = None
        self.cluster_id = -1
        self.by = "quality"  # the anchored label; falls back to the first rankable score
        self.descending = True
        self.range: tuple[float, float] | None = None
        self.tier_filter = ANY
        self.correction_filter = ANY
        self.flag_filter = ANY
        self._ranked = np.zeros(0, dtype=np.int64)
        self.subclusters: np.ndarray | None = None  # sub-cluster label per image (grouping)
        self.preview: PreviewDialog | None = None
        self.preview_actions: list = []  # the window's curation keys, also live in the preview

        self.rank_combo = QComboBox()
        self.rank_combo.setToolTip("Score the gallery is ranked by (R)")
        self.order_button = QToolButton()
        self.order_button.setCheckable(True)
        self.order_button.setChecked(True)
        self.order_button.setToolTip("Order: highest score first, or lowest first (O)")
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_THUMB, MAX_THUMB)
        self.size_slider.setSingleStep(8)
        self.size_slider.setPageStep(32)
        self.size_slider.setFixedWidth(110)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.RichText)
        # may be cut at the right rather than widen the panel (and squeeze its neighbours)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setMinimumWidth(40)
        self.clear_range_button = QToolButton()
        self.clear_range_button.setText("Clear range")
        self.clear_range_button.setToolTip("Show every image of the cluster again")
        self.clear_range_button.setVisible(False)
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("Which stored run the window shows (runs are kept: switch "
                                  "back at any time)")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.tier_combo = QComboBox()
        self.tier_combo.setToolTip("Show only images with this tier: yours where you set one, "
                                   "else the dataset band (Quality thirds of the dataset)")
        for text, data in TIER_FILTERS:
            self.tier_combo.addItem(text, data)
        self.correction_combo = QComboBox()
        self.correction_combo.setToolTip("Corrected = you set a tier or a corrected score, or "
                                         "marked it wrong identity")
        for text, data in CORRECTION_FILTERS:
            self.correction_combo.addItem(text, data)
        self.flag_combo = QComboBox()
        self.flag_combo.setToolTip("Show only flagged images (F jumps to the next one)")
        self.clear_filters_button = QToolButton()
        self.clear_filters_button.setText("Show all")
        self.clear_filters_button.setToolTip("Clear the tier, correction and flag filters")
        self.clear_filters_button.setVisible(False)

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Rank by"))
        bar.addWidget(self.rank_combo)
        bar.addWidget(self.order_button)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Size"))
        bar.addWidget(self.size_slider)
        bar.addStretch(1)
        self.run_label = QLabel("Run")
        bar.addWidget(self.run_label)
        bar.addWidget(self.run_combo)
        filters = QHBoxLayout()
        filters.setContentsMargins(4, 0, 4, 0)
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.tier_combo)
        filters.addWidget(self.correction_combo)
        filters.addWidget(self.flag_combo)
        filters.addWidget(self.clear_filters_button)
        filters.addStretch(1)
        line = QHBoxLayout()  # what is shown: cluster, counts, range, cluster flags
        line.setContentsMargins(6, 0, 4, 0)
        line.addWidget(self.info, 1)
        line.addWidget(self.clear_range_button)

        self.model = GalleryModel(loader, self)
        self.delegate = GalleryDelegate(self)
        self.view = GalleryView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addLayout(filters)
        layout.addLayout(line)
        layout.addWidget(self.view, 1)

        self.size_slider.setValue(int(np.clip(thumb_px, MIN_THUMB, MAX_THUMB)))
        self._apply_size(self.size_slider.value())
        self._update_order_button()
        self.rank_combo.currentIndexChanged.connect(self._on_rank_combo)
        self.order_button.toggled.connect(self._on_order)
        self.size_slider.valueChanged.connect(self._apply_size)
        self.clear_range_button.clicked.connect(self.clear_range)
        self.tier_combo.currentIndexChanged.connect(
            lambda i: self.set_filters(tier=self.tier_combo.itemData(i)))
        self.correction_combo.currentIndexChanged.connect(
            lambda i: self.set_filters(correction=self.correction_combo.itemData(i)))
        self.flag_combo.currentIndexChanged.connect(
            lambda i: self.set_filters(flag=self.flag_combo.itemData(i)))
        self.clear_filters_button.clicked.connect(self.clear_filters)
        self.run_combo.activated.connect(self._on_run_combo)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.view.preview_requested.connect(self.open_preview)

    # ----------------------------------------------------------------- content
    def set_review(self, review: ReviewData | None) -> None:
        self.loader.drop_pending()
        self.review = review
        self.cluster_id = -1
        self.range = None
        self.subclusters = None
        self._ranked = np.zeros(0, dtype=np.int64)
        self.model.set_review(review)
        self.model.groups = None
        self.rank_combo.blockSignals(True)
        self.rank_combo.clear()
        choices = self.rank_choices()
        names = [name for _title, name in choices]
        for title, name in choices:
            self.rank_combo.addItem(title, name)
        if self.by not in names and names:
            self.by = names[0]
        if names:
            self.rank_combo.setCurrentIndex(list(names).index(self.by))
        self.rank_combo.setEnabled(review is not None and review.scores is not None)
        self.rank_combo.blockSignals(False)
        self._fill_flag_combo()
        self._fill_run_combo()
        self._update_info()

    def rank_choices(self) -> list[tuple[str, str]]:
        """(title, name) of what the gallery can be ranked by."""
        names = self.review.rankable if self.review is not None else ()
        return [(score_title(name), name) for name in names]

    def has_content(self) -> bool:
        """Whether something is shown (a cluster here; views over the dataset say otherwise)."""
        return self.review is not None and self.cluster_id >= 0

    def badge_score(self) -> str:
        """The score on the tiles' badges and of the range filter: the ranking score."""
        return self.by

    def present_flags(self) -> set[str]:
        """The image flags the flag filter offers: those of the run."""
        rv = self.review
        return rv.present_image_flags() if rv is not None else set()

    def flag_heads(self) -> list[tuple[str, str]]:
        """The flag filter's first entries, before one per flag."""
        return [("Flagged or not", ANY), ("Any flag", FLAGGED)]

    def flag_label(self, flag: str) -> str:
        return flag_title(flag)

    def _fill_flag_combo(self) -> None:
        present = self.present_flags()
        keep = self.flag_filter if self.flag_filter in present | {ANY, FLAGGED} else ANY
        self.flag_combo.blockSignals(True)
        self.flag_combo.clear()
        for text, data in self.flag_heads():
            self.flag_combo.addItem(text, data)
        for f in ordered(present):
            self.flag_combo.addItem(flag_icon(f), self.flag_label(f), f)
        self.flag_combo.setCurrentIndex(max(0, self.flag_combo.findData(keep)))
        self.flag_combo.setEnabled(bool(present))
        self.flag_combo.blockSignals(False)
        self.flag_filter = keep if self.flag_combo.findData(keep) >= 0 else ANY

    def _fill_run_combo(self) -> None:
        rv = self.review
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in (rv.runs if rv is not None else []):
            when = local_time(run.created_at, seconds=False)
            base = run.params.get("base_run") if isinstance(run.params, dict) else None
            what = f"re-score of #{base}" if run.kind == "rescore" and base else run.kind
            self.run_combo.addItem(f"#{run.id} {what} · {when}", run.id)
        if rv is not None and rv.run is not None:
            self.run_combo.setCurrentIndex(max(0, self.run_combo.findData(rv.run.id)))
        self.run_combo.setEnabled(self.run_combo.count() > 1)
        self.run_combo.blockSignals(False)

    def _on_run_combo(self, i: int) -> None:
        run_id = self.run_combo.itemData(i)
        rv = self.review
        if run_id is not None and rv is not None and (rv.run is None or run_id != rv.run.id):
            self.run_selected.emit(int(run_id))

    def set_cluster(self, cluster_id: int) -> None:
        """Show a cluster, ranked; the first image becomes current."""
        if self.review is None:
            return
        self.loader.drop_pending()  # the previous cluster's requests are stale now
        self.cluster_id = int(cluster_id)
        self.range = None
        self._ranked = self._rank()
        self._show(keep=None)

    def set_rank(self, by: str, descending: bool | None = None) -> None:
        if self.review is None:
            return
        if descending is not None and descending != self.descending:
            self.order_button.blockSignals(True)
            self.order_button.setChecked(descending)
            self.order_button.blockSignals(False)
            self.descending = descending
            self._update_order_button()
        if by != self.by:
            self.by = by
            self.range = None  # the range was on the previous score
            i = self.rank_combo.findData(by)
            if i >= 0:
                self.rank_combo.blockSignals(True)
                self.rank_combo.setCurrentIndex(i)
                self.rank_combo.blockSignals(False)
        if self.has_content():
            keep = self.current_id()
            self._ranked = self._rank()
            self._show(keep=keep)
        self.rank_changed.emit(self.by, self.descending)

    def set_subclusters(self, labels: np.ndarray | None) -> None:
        """Group the gallery by sub-cluster (every image's label at one clustering level), or
        stop grouping (None). Groups follow their best-ranked image; rank order inside."""
        self.subclusters = None if labels is None else np.asarray(labels)
        if self.has_content():
            keep = self.current_id()
            self._ranked = self._rank()
            self._show(keep=keep)

    def _rank(self) -> np.ndarray:
        ranked = self.review.rank(self.cluster_id, self.by, self.descending)
        labels = self.subclusters
        if labels is None or len(labels) != self.review.n_images or not len(ranked):
            self.model.groups = None
            return ranked
        _, first, inverse = np.unique(labels[ranked], return_index=True, return_inverse=True)
        group = np.argsort(np.argsort(first))[inverse.ravel()]  # 0 = the best-ranked group
        self.model.groups = dict(zip(ranked.tolist(), (group + 1).tolist(), strict=True))
        return ranked[np.argsort(group, kind="stable")]

    def set_range(self, lo: float, hi: float) -> None:
        """Show only images whose ranking score lies in [lo, hi]."""
        self.range = (float(min(lo, hi)), float(max(lo, hi)))
        self._show(keep=self.current_id())

    def clear_range(self) -> None:
        if self.range is not None:
            self.range = None
            self._show(keep=self.current_id())

    def ranked_ids(self) -> np.ndarray:
        """The cluster's image ids in rank order, before the range filter."""
        return self._ranked

    def shown_ids(self) -> np.ndarray:
        return self.model.ids()

    @property
    def filtering(self) -> bool:
        return (self.tier_filter, self.correction_filter, self.flag_filter) != (ANY, ANY, ANY)

    def set_filters(self, tier=None, correction=None, flag=None) -> None:
        """Show only images with this tier / correction state / flag (ANY: no filter)."""
        for combo, value, attr in ((self.tier_combo, tier, "tier_filter"),
                                   (self.correction_combo, correction, "correction_filter"),
                                   (self.flag_combo, flag, "flag_filter")):
            if value is None:
                continue
            setattr(self, attr, value)
            i = combo.findData(value)
            if i >= 0 and i != combo.currentIndex():
                combo.blockSignals(True)
                combo.setCurrentIndex(i)
                combo.blockSignals(False)
        if self.has_content():
            self._show(keep=self.current_id())
        self.clear_filters_button.setVisible(self.filtering)

    def clear_filters(self) -> None:
        self.set_filters(tier=ANY, correction=ANY, flag=ANY)

    def filter_mask(self, ids: np.ndarray) -> np.ndarray:
        """Which of these images pass the tier, correction and flag filters."""
        rv = self.review
        mask = np.ones(len(ids), dtype=bool)
        if rv is None or not len(ids):
            return mask
        if self.tier_filter != ANY:
            mask &= rv.shown_tiers(ids) == self.tier_filter
        if self.correction_filter != ANY:
            corrected = rv.annotations.corrected_mask(ids)
            mask &= corrected if self.correction_filter == "corrected" else ~corrected
        if self.flag_filter != ANY:
            mask &= self.flag_mask(ids, None if self.flag_filter == FLAGGED else self.flag_filter)
        return mask

    def flag_mask(self, ids: np.ndarray, flag: str | None) -> np.ndarray:
        """Which of these images carry an image-level flag (`flag`, or any when None)."""
        return self.review.image_flag_mask(ids, flag)

    def _show(self, keep: int | None) -> None:
        ids = self._ranked
        if self.range is not None and self.review is not None and self.review.scores:
            values = np.asarray(self.review.scores[self.badge_score()], dtype=float)[ids]
            ids = ids[in_range(values, *self.range)]
        if self.filtering:
            ids = ids[self.filter_mask(ids)]
        self.model.show(ids, self.badge_score())
        self.clear_range_button.setVisible(self.range is not None)
        self.clear_filters_button.setVisible(self.filtering)
        row = self.model.row_of(keep) if keep is not None and keep >= 0 else -1
        if row < 0 and len(ids):
            row = 0
        if row >= 0:
            idx = self.model.index(row)
            self.view.selectionModel().setCurrentIndex(
                idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if row == 0:
                self.view.scrollToTop()
            else:
                self.view.scrollTo(idx, QAbstractItemView.ScrollHint.PositionAtCenter)
        else:
            self.current_changed.emit(-1)
            self.selection_changed.emit(np.zeros(0, dtype=np.int64))
        self._update_info()
        self.shown_changed.emit()

    # ----------------------------------------------------------------- selection
    def current_id(self) -> int:
        idx = self.view.currentIndex()
        return int(idx.data(IMAGE_ID_ROLE)) if idx.isValid() else -1

    def targets(self) -> np.ndarray:
        """The selected images, else the current one (what a curation key acts on)."""
        ids = self.selected_ids()
        if not len(ids) and self.current_id() >= 0:
            ids = np.array([self.current_id()], dtype=np.int64)
        return np.asarray(ids, dtype=np.int64)

    def selected_ids(self) -> np.ndarray:
        rows = self._selected_rows()
        ids = self.model.ids()
        return ids[rows] if len(rows) else np.zeros(0, dtype=np.int64)

    def _selected_rows(self) -> np.ndarray:
        """Selected rows, ascending, from the selection's ranges (a 1,000-image selection is a
        few ranges; listing its indexes one by one costs milliseconds)."""
        ranges = self.view.selectionModel().selection()
        if ranges.isEmpty():
            return np.zeros(0, dtype=np.int64)
        spans = np.array([(r.top(), r.bottom()) for r in ranges], dtype=np.int64)
        lengths = spans[:, 1] - spans[:, 0] + 1
        # every row of every range without a Python loop over rows: start + offset in range
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.unique(np.repeat(spans[:, 0], lengths) + offsets)

    def select_image(self, image_id: int) -> bool:
        """Make one image current and the only selection (clears a range that hides it)."""
        row = self.model.row_of(image_id)
        if row < 0 and (self.range is not None or self.filtering) \
                and bool((self._ranked == int(image_id)).any()):
            self.range = None
            self.tier_filter = self.correction_filter = self.flag_filter = ANY
            for combo in (self.tier_combo, self.correction_combo, self.flag_combo):
                combo.blockSignals(True)
                combo.setCurrentIndex(0)
                combo.blockSignals(False)
            self._show(keep=int(image_id))
            row = self.model.row_of(image_id)
        if row < 0:
            return False
        idx = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(idx)
        return True

    def select_images(self, image_ids) -> None:
        """Select several images (keeps the current one current when it is among them)."""
        sel = QItemSelection()
        for i in image_ids:
            row = self.model.row_of(int(i))
            if row >= 0:
                idx = self.model.index(row)
                sel.select(idx, idx)
        self.view.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def step_image(self, delta: int) -> None:
        """Make the next (+1) or previous (-1) shown image current, alone selected (J / K)."""
        n = self.model.rowCount()
        if n == 0:
            return
        cur = self.view.currentIndex().row()
        row = 0 if cur < 0 else max(0, min(n - 1, cur + delta))
        idx = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(idx)

    def refresh_images(self, image_ids) -> None:
        """The annotations of these images changed in the store: repaint their tiles, and
        filter again when a filter depends on annotations (the current image may leave the
        view: the next one in the list becomes current)."""
        if not self.has_content():
            return
        self._update_preview()
        if self.tier_filter == ANY and self.correction_filter == ANY:
            self.model.refresh_images(image_ids)
            self._update_info()
            return
        shown = self.model.ids()
        row = self.view.currentIndex().row()
        selected = self.selected_ids()
        keep_mask = self.filter_mask(shown)
        keep = None
        if 0 <= row < len(shown):  # the current image, else the next one still shown
            after = np.flatnonzero(keep_mask[row:])
            before = np.flatnonzero(keep_mask[:row])
            if len(after):
                keep = int(shown[row + after[0]])
            elif len(before):
                keep = int(shown[before[-1]])
        self._show(keep=keep)
        still = [i for i in selected if self.model.row_of(int(i)) >= 0]
        if len(still) > 1:
            self.select_images(still)

    def _on_current(self, current, _previous) -> None:
        i = int(current.data(IMAGE_ID_ROLE)) if current.isValid() else -1
        self.current_changed.emit(i)
        self._update_preview(i)

    def _on_selection(self, *_):
        self.selection_changed.emit(self.selected_ids())
        self._update_info()

    # ----------------------------------------------------------------- controls
    def _on_rank_combo(self, i: int) -> None:
        by = self.rank_combo.itemData(i)
        if by:
            self.set_rank(by)

    def _on_order(self, checked: bool) -> None:
        self.descending = checked
        self._update_order_button()
        self.set_rank(self.by)

    def toggle_order(self) -> None:
        self.order_button.toggle()

    def _update_order_button(self) -> None:
        self.order_button.setText("↓ high first" if self.descending else "↑ low first")

    def _apply_size(self, px: int) -> None:
        self.delegate.set_thumb_size(px)
        self.loader.set_display_size(px)
        tile = self.delegate.tile_size()
        self.view.setGridSize(QSize(tile.width() + SPACING, tile.height() + SPACING))
        self.view.doItemsLayout()

    def grow(self, step: int) -> None:
        self.size_slider.setValue(self.size_slider.value() + step)

    def _update_info(self) -> None:
        if self.review is None or self.cluster_id < 0:
            self.info.setText("")
            return
        name = html.escape(self.review.summaries.names[self.cluster_id])
        total, shown = len(self._ranked), len(self.model.ids())
        text = f"<b>{name}</b> · {shown:,} of {total:,} images" if shown != total \
            else f"<b>{name}</b> · {total:,} images"
        if self.model.groups:
            text += f" · grouped in {max(self.model.groups.values())} sub-cluster(s)"
        if self.range is not None:
            lo, hi = self.range
            text += (f" · {html.escape(score_title(self.by))} "
                     f"{format_score(lo, self.by)}–{format_score(hi, self.by)}")
        cluster_flags = [f for f in self.review.summaries.flags[self.cluster_id]
                         if f in CLUSTER_FLAGS]
        if cluster_flags:
            text += (" · <span style='color:#e6550d'>⚑ "
                     + html.escape(", ".join(flag_title(f) for f in ordered(cluster_flags)))
                     + "</span>")
        why = self.review.cluster_explanations.get(self.cluster_id, [])
        self.info.setToolTip("<br>".join(
            f"⚑ <b>{html.escape(flag_title(f))}</b>: {html.escape(t)}" for f, t in why))
        corrected = int(self.review.annotations.corrected_mask(self._ranked).sum()) \
            if len(self._ranked) else 0
        if corrected:
            text += f" · <span style='color:#6a3d9a'>✎ {corrected:,} corrected</span>"
        n_sel = len(self._selected_rows())
        if n_sel > 1:
            text += f" · {n_sel:,} selected"
        self.info.setText(text)

    # ----------------------------------------------------------------- preview
    def open_preview(self, row: int) -> PreviewDialog | None:
        """The large preview of the image at `row`; one window, which then follows the
        current image (J/K) and shows its marks as they change."""
        if self.review is None or not (0 <= row < self.model.rowCount()):
            return None
        i = self.model.image_id(row)
        if self.view.currentIndex().row() != row:
            self.view.selectionModel().setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if self.preview is None:
            self.preview = PreviewDialog(self.model.path_of(i), self._caption(i), self,
                                         self._marks(i))
            self.preview.addActions(self.preview_actions)
            self.preview.destroyed.connect(self._preview_closed)
        self.preview.show()
        self.preview.raise_()
        return self.preview

    def _preview_closed(self, *_args) -> None:
        self.preview = None

    def _update_preview(self, image_id: int | None = None) -> None:
        if self.preview is None or self.review is None:
            return
        i = self.current_id() if image_id is None else image_id
        if i < 0:
            return
        self.preview.show_image(self.model.path_of(i), self._caption(i), self._marks(i))

    def _caption(self, i: int) -> str:
        values = image_scores(self.review.scores, i, self.review.score_names)
        parts = [f"{score_title(n)} {format_score(v, n)}" for n, v in values
                 if not math.isnan(v) and n in CAPTION_SCORES]
        return (f"{self.review.dataset.paths[i]} · cluster "
                f"{self.review.summaries.names[int(self.review.labels[i])]} · "
                + " · ".join(parts))

    def _marks(self, i: int) -> str:
        """The image's marks in words and colour: your tier, seed decision, wrong identity,
        and its flags."""
        rv = self.review
        a = rv.annotations
        parts = []
        if a.tier[i] != TIER_NONE:
            parts.append(f"<b>tier {TIER_NAMES[int(a.tier[i])]}</b> (yours)")
        if np.isfinite(a.corrected[i]):
            parts.append(f"corrected score <b>{a.corrected[i]:g}</b>")
        if a.seed[i]:
            parts.append(f"seed <b>{SEED_NAMES[int(a.seed[i])]}</b>")
        if a.wrong[i]:
            parts.append("<b style='color:#d7301f'>wrong identity</b>")
        flags = [f for f in ordered(rv.flags_of(i)) if f not in CLUSTER_FLAGS] \
            if rv.scores is not None else []
        if flags:
            parts.append("<span style='color:#e6550d'>⚑ "
                         + html.escape(", ".join(flag_title(f) for f in flags)) + "</span>")
        return " · ".join(parts) if parts else "<small>no marks</small>"
