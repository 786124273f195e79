"""Compare: an identity suspect beside its own cluster's anchors and the anchors of the cluster
it is nearer to, with one key (Shift+M) to move it there; or a near-duplicate group shown
together beside its cluster's anchors. Each strip is a gallery view (same model, tiles and
keys as the cluster gallery); the curation keys act on the strip last clicked, else on the
compared image(s).
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.review.dataset_views import (
    BY_CLUSTER,
    IDENTITY_SUSPECT,
    FlagIndex,
    Suspect,
    anchors,
    flagged_view,
    group_of,
    near_dup_groups,
    near_dup_members,
    suspect_of,
)
from fiqa_gui.core.review.review_data import ReviewData
from fiqa_gui.gui.gallery_delegate import GalleryDelegate
from fiqa_gui.gui.gallery_model import IMAGE_ID_ROLE, GalleryModel
from fiqa_gui.gui.gallery_view import SPACING, GalleryView
from fiqa_gui.gui.rich_label import rich_label
from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader

SUSPECTS, DUPLICATES = "suspects", "duplicates"
N_ANCHORS = 8


class Strip(QWidget):
    """A titled row of tiles: a `GalleryView` over a few image ids."""

    activated = Signal(object)  # this strip: it got a click or the focus

    def __init__(self, loader: ThumbnailLoader, thumb_px: int, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.model = GalleryModel(loader, self)
        self.model.cluster_names = True
        self.delegate = GalleryDelegate(self)
        self.delegate.cluster_line = True
        self.delegate.set_thumb_size(thumb_px)
        self.view = GalleryView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        tile = self.delegate.tile_size()
        self.view.setGridSize(QSize(tile.width() + SPACING, tile.height() + SPACING))
        # short windows scroll the strip rather than grow the window
        self.view.setMinimumHeight(min(tile.height() + SPACING + 6, 72))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        self.view.clicked.connect(lambda _idx: self.activated.emit(self))
        self.view.selectionModel().currentChanged.connect(
            lambda cur, _prev: self.activated.emit(self) if self.view.hasFocus() else None)

    def show_ids(self, ids: np.ndarray, by: str, title: str) -> None:
        self.model.show(np.asarray(ids, dtype=np.int64), by)
        self.title.setText(title)

    def current_id(self) -> int:
        idx = self.view.currentIndex()
        return int(idx.data(IMAGE_ID_ROLE)) if idx.isValid() else -1

    def targets(self) -> np.ndarray:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedIndexes()})
        ids = self.model.ids()[rows] if rows else np.zeros(0, dtype=np.int64)
        if not len(ids) and self.current_id() >= 0:
            ids = np.array([self.current_id()], dtype=np.int64)
        return ids

    def select(self, image_id: int) -> bool:
        row = self.model.row_of(image_id)
        if row < 0:
            return False
        self.view.selectionModel().setCurrentIndex(
            self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        return True


class CompareView(QWidget):
    """Identity suspects (or near-duplicate groups) one at a time, J / K to step."""

    current_changed = Signal(int)         # the image a curator looks at (inspector follows)
    move_requested = Signal(object, str)  # image ids, target cluster name

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.review: ReviewData | None = None
        self.flags: FlagIndex | None = None
        self.mode = SUSPECTS
        self.items = np.zeros(0, dtype=np.int64)  # suspect image ids, or group ids
        self.pos = -1
        self.suspect: Suspect | None = None
        self.filled = False

        self.mode_combo = QComboBox()
        self.mode_combo.setToolTip("Compare identity suspects with the cluster they are nearer "
                                   "to, or look at near-duplicate groups")
        self.prev_button = QToolButton()
        self.prev_button.setText("◀")
        self.prev_button.setToolTip("Previous (K)")
        self.next_button = QToolButton()
        self.next_button.setText("▶")
        self.next_button.setToolTip("Next (J)")
        self.position = QLabel()
        self.move_button = QPushButton("Move to the nearer cluster")
        self.move_button.setToolTip("Move the image to the cluster it is nearer to (Shift+M; "
                                    "Ctrl+Z undoes)")
        self.explanation = rich_label()
        self.explanation.setSizePolicy(QSizePolicy.Policy.Ignored,
                                       QSizePolicy.Policy.Preferred)
        self.subject = Strip(loader, 128)
        self.own = Strip(loader, 96)
        self.nearer = Strip(loader, 96)
        self.active: Strip = self.subject

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.mode_combo)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.position)
        bar.addWidget(self.next_button)
        bar.addStretch(1)
        bar.addWidget(self.move_button)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.subject, 1)
        top.addWidget(self.explanation, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addLayout(top, 3)
        for strip in (self.own, self.nearer):
            strip.layout().setContentsMargins(4, 0, 4, 0)
            layout.addWidget(strip, 2)

        self.mode_combo.activated.connect(
            lambda i: self.set_mode(self.mode_combo.itemData(i)))
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.move_button.clicked.connect(self.move_nearer)
        for strip in (self.subject, self.own, self.nearer):
            strip.activated.connect(self._activate)
            strip.view.selectionModel().currentChanged.connect(
                lambda cur, _prev, s=strip: self._on_current(s, cur))
        self._show_nothing("Open a scored project to compare images.")

    # ----------------------------------------------------------------- content
    def set_review(self, review: ReviewData | None) -> None:
        self.review = review
        for strip in (self.subject, self.own, self.nearer):
            strip.model.set_review(review)
        self.flags = None
        self.filled = False
        self.items = np.zeros(0, dtype=np.int64)
        self.pos = -1
        self._show_nothing("Open a scored project to compare images." if review is None
                           or review.scores is None else "")

    def fill(self, flags: FlagIndex | None, image_id: int = -1) -> None:
        """Find the suspects and groups (first shown, and after clusters changed); show
        `image_id` when it is one of them, else stay where it was."""
        rv = self.review
        if rv is None or rv.scores is None or flags is None:
            return
        self.flags = flags
        self.filled = True
        keep = image_id if image_id >= 0 else self.subject_id()
        suspects = self._suspects()
        groups = near_dup_groups(rv.scores)
        self.mode_combo.blockSignals(True)
        self.mode_combo.clear()
        self.mode_combo.addItem(f"Identity suspects ({len(suspects):,})", SUSPECTS)
        self.mode_combo.addItem(f"Near-duplicate groups ({len(groups):,})", DUPLICATES)
        self.mode_combo.blockSignals(False)
        mode = self.mode
        if keep >= 0 and self.flags.mask(IDENTITY_SUSPECT)[keep]:
            mode = SUSPECTS
        elif keep >= 0 and group_of(rv.scores, keep) >= 0:
            mode = DUPLICATES
        elif mode == SUSPECTS and not len(suspects) and len(groups):
            mode = DUPLICATES
        self.set_mode(mode, keep)

    def _suspects(self) -> np.ndarray:
        rv = self.review
        return flagged_view(self.flags, rv.scores, rv.labels, IDENTITY_SUSPECT, BY_CLUSTER)

    def set_mode(self, mode: str, image_id: int = -1) -> None:
        if self.review is None or self.flags is None:
            return
        self.mode = mode
        self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(mode)))
        if mode == SUSPECTS:
            self.items = self._suspects()
            at = np.flatnonzero(self.items == image_id)
        else:
            self.items = near_dup_groups(self.review.scores)
            at = np.flatnonzero(self.items == group_of(self.review.scores, image_id)) \
                if image_id >= 0 else np.zeros(0, dtype=np.int64)
        self.show_at(int(at[0]) if len(at) else (0 if len(self.items) else -1))

    def show_image(self, image_id: int) -> bool:
        """Compare this image, if it is an identity suspect or in a near-duplicate group."""
        if not self.filled or self.review is None:
            return False
        if self.flags.mask(IDENTITY_SUSPECT)[image_id]:
            self.set_mode(SUSPECTS, image_id)
            return True
        if group_of(self.review.scores, image_id) >= 0:
            self.set_mode(DUPLICATES, image_id)
            return True
        return False

    def step(self, delta: int) -> None:
        """The next (+1) or previous (-1) suspect or group (J / K)."""
        if len(self.items):
            self.show_at(max(0, min(len(self.items) - 1, self.pos + delta)))

    def show_at(self, pos: int) -> None:
        rv = self.review
        self.pos = pos
        n = len(self.items)
        self.prev_button.setEnabled(pos > 0)
        self.next_button.setEnabled(0 <= pos < n - 1)
        self.position.setText(f"{pos + 1:,} of {n:,}" if pos >= 0 else "none")
        if pos < 0:
            self._show_nothing("No identity suspect in this run." if self.mode == SUSPECTS
                               else "No near-duplicate group in this run.")
            return
        names = rv.summaries.names
        by = "quality" if "quality" in rv.rankable else "sdd"
        e = html.escape
        if self.mode == SUSPECTS:
            i = int(self.items[pos])
            details = rv.project.flag_details(rv.run.id, image_id=i) if rv.run else []
            s = suspect_of(i, rv.labels, names, details)
            self.suspect = s
            own_name = names[s.cluster]
            self.subject.show_ids(np.array([i]), by, f"<b>Identity suspect</b> · image #{i}"
                                  f" in <b>{e(own_name)}</b>")
            moved = s.nearer == s.cluster
            why = e(s.explanation or "Flagged as a possible other person.")
            self.explanation.setText(
                f"<span style='color:#e6550d'>⚑</span> {why}"
                + ("<br><b>It is in that cluster now</b> (moved; Ctrl+Z undoes)." if moved
                   else f"<br>Does it look like <b>{e(names[s.nearer])}</b>? Shift+M moves it "
                        "there; W marks it wrong identity." if s.nearer >= 0 else
                   f"<br>The nearer cluster ({e(s.nearer_name)}) no longer exists."))
            self._anchors(self.own, s.cluster, i, "Its own cluster", by)
            if s.nearer >= 0 and not moved:
                self._anchors(self.nearer, s.nearer, i, "The nearer cluster", by)
            else:
                self.nearer.show_ids(np.zeros(0, dtype=np.int64), by, "")
            self.nearer.setVisible(s.nearer >= 0 and not moved)
            self.move_button.setVisible(True)
            self.move_button.setEnabled(s.nearer >= 0 and not moved)
            self.move_button.setText(f"Move to {names[s.nearer]}  (Shift+M)"
                                     if s.nearer >= 0 and not moved else "Move to the nearer "
                                     "cluster")
        else:
            g = int(self.items[pos])
            members = near_dup_members(rv.scores, g)
            clusters = sorted({names[int(c)] for c in rv.labels[members]})
            self.suspect = None
            self.subject.show_ids(members, by, f"<b>Near-duplicate group {g}</b> · "
                                  f"{len(members)} images in {e(', '.join(clusters))}")
            self.explanation.setText(
                "<span style='color:#e6550d'>⚑</span> These images are near-identical copies "
                "(cosine ≥ 0.985 between their embeddings). Copies are each other's positives, "
                "so their SDD is too high. Keep one: select the others and press R (reject as "
                "seed) or 4 (unusable).")
            self._anchors(self.own, int(rv.labels[members[0]]), -1, "Their cluster", by,
                          exclude=members)
            self.nearer.setVisible(False)
            self.move_button.setVisible(False)
        self.subject.select(int(self.subject.model.ids()[0]))
        self.active = self.subject
        self.current_changed.emit(self.subject_id())

    def _anchors(self, strip: Strip, cluster: int, subject: int, what: str, by: str,
                 exclude=()) -> None:
        rv = self.review
        members = rv.index.members(cluster)
        ids = anchors(rv.scores, members, N_ANCHORS, exclude=[subject, *list(exclude)])
        has = "is_anchor" in rv.scores
        kind = "anchors" if has else "best by quality"
        strip.show_ids(ids, by, f"<b>{what}: {html.escape(rv.summaries.names[cluster])}</b> · "
                                f"{len(ids)} {kind} of {len(members):,} images")

    def _show_nothing(self, text: str) -> None:
        self.suspect = None
        for strip in (self.subject, self.own, self.nearer):
            strip.show_ids(np.zeros(0, dtype=np.int64), "sdd", "")
        self.explanation.setText(f"<i>{html.escape(text)}</i>" if text else "")
        self.move_button.setEnabled(False)
        self.position.setText("")

    # ----------------------------------------------------------------- selection
    def subject_id(self) -> int:
        """The compared image (the current tile of the top strip), -1 for none."""
        return self.subject.current_id()

    def current_id(self) -> int:
        return self.active.current_id()

    def targets(self) -> np.ndarray:
        """What a curation key acts on: the selection of the strip last clicked."""
        return self.active.targets()

    def select_image(self, image_id: int) -> bool:
        for strip in (self.active, self.subject, self.own, self.nearer):
            if strip.select(image_id):
                self.active = strip
                return True
        return False

    def step_image(self, delta: int) -> None:
        self.step(delta)

    def refresh_images(self, image_ids) -> None:
        for strip in (self.subject, self.own, self.nearer):
            strip.model.refresh_images(image_ids)

    def _activate(self, strip: Strip) -> None:
        self.active = strip

    def _on_current(self, strip: Strip, current) -> None:
        if strip is self.active or strip.view.hasFocus():
            self.active = strip
            self.current_changed.emit(int(current.data(IMAGE_ID_ROLE))
                                      if current.isValid() else -1)

    # ----------------------------------------------------------------- the move
    def nearer_target(self) -> tuple[int, str] | None:
        """(image, cluster name) that Shift+M moves, or None."""
        s = self.suspect
        if s is None or s.nearer < 0 or s.nearer == s.cluster:
            return None
        return s.image_id, s.nearer_name

    def move_nearer(self) -> bool:
        target = self.nearer_target()
        if target is None:
            return False
        self.move_requested.emit([target[0]], target[1])
        return True
