"""The centre of the window as tabs: the cluster gallery, and the views that see the whole
dataset — every flagged image, every image ranked, compare, the embedding map.

Which selection the curation keys act on follows the tab shown (`ViewCuration`): the
dataset-wide galleries' and compare's own, else the cluster gallery's (the map is a face of
the cluster gallery: its clicks select there). The dataset-wide tabs are computed when first
shown, from one flag index per run.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.review.dataset_views import IDENTITY_SUSPECT, FlagIndex, suspect_of
from fiqa_gui.core.review.review_data import ReviewData
from fiqa_gui.gui.compare_view import CompareView
from fiqa_gui.gui.curation_actions import CurationActions
from fiqa_gui.gui.dataset_view import FLAGGED_VIEW, RANKED_VIEW, DatasetPanel
from fiqa_gui.gui.embedding_map import EmbeddingMapPanel
from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader

CLUSTER_TAB, FLAGGED_TAB, RANKED_TAB, COMPARE_TAB, MAP_TAB = (
    "cluster", "flagged", "ranked", "compare", "map")
TABS = (CLUSTER_TAB, FLAGGED_TAB, RANKED_TAB, COMPARE_TAB, MAP_TAB)
TITLES = {CLUSTER_TAB: "Cluster", FLAGGED_TAB: "Flagged", RANKED_TAB: "All ranked",
          COMPARE_TAB: "Compare", MAP_TAB: "Map"}
TIPS = {CLUSTER_TAB: "The cluster chosen in the list (Ctrl+1)",
        FLAGGED_TAB: "Every flagged image of the dataset, by flag kind (Ctrl+2)",
        RANKED_TAB: "Every image of the dataset ranked by one score (Ctrl+3)",
        COMPARE_TAB: "An identity suspect beside its own and the nearer cluster's anchors; "
                     "near-duplicate groups (Ctrl+4)",
        MAP_TAB: "The embedding map of the cluster or of a dataset sample (Ctrl+5)"}


class ViewTabs(QTabWidget):
    """Cluster | Flagged | All ranked | Compare | Map."""

    image_current = Signal(int)     # the current image of a dataset-wide tab or compare
    image_selection = Signal(object)  # its selected image ids
    tab_shown = Signal(str)

    def __init__(self, loader: ThumbnailLoader, cluster_page: QWidget, thumb_px: int = 112,
                 parent=None) -> None:
        super().__init__(parent)
        self.review: ReviewData | None = None
        self._flags: FlagIndex | None = None
        self.cluster_page = cluster_page
        self.flagged = DatasetPanel(loader, FLAGGED_VIEW, thumb_px)
        self.ranked = DatasetPanel(loader, RANKED_VIEW, thumb_px)
        self.compare = CompareView(loader)
        self.map = EmbeddingMapPanel()
        self.galleries = (self.flagged, self.ranked)  # the dataset-wide galleries
        self.pages = {CLUSTER_TAB: cluster_page, FLAGGED_TAB: self.flagged,
                      RANKED_TAB: self.ranked, COMPARE_TAB: self.compare, MAP_TAB: self.map}
        for name in TABS:
            k = self.addTab(self.pages[name], TITLES[name])
            self.setTabToolTip(k, TIPS[name])
        self.setDocumentMode(True)
        for panel in self.galleries:
            panel.current_changed.connect(lambda i, p=panel: self._forward_current(p, i))
            panel.selection_changed.connect(lambda ids, p=panel: self._forward_selection(p, ids))
        self.compare.current_changed.connect(
            lambda i: self._forward_current(self.compare, i))
        self.currentChanged.connect(self._on_tab)

    # ----------------------------------------------------------------- content
    @property
    def name(self) -> str:
        return TABS[max(0, self.currentIndex())]

    @property
    def flags(self) -> FlagIndex | None:
        """The run's flag index (the loader built it with the review)."""
        rv = self.review
        if self._flags is None and rv is not None and rv.scores is not None:
            self._flags = rv.flag_index()
            self.map.set_flags(self._flags)
        return self._flags

    def set_review(self, review: ReviewData | None) -> None:
        self.review = review
        self._flags = None
        for panel in self.galleries:
            panel.set_review(review)
        self.compare.set_review(review)
        self.map.set_review(review, None)
        self._titles()
        self._fill(self.name)

    def _titles(self) -> None:
        f = self.flags  # the Flagged tab says how many there are from the start
        self.setTabText(TABS.index(FLAGGED_TAB), TITLES[FLAGGED_TAB] +
                        (f" ({f.count():,})" if f is not None else ""))

    def _fill(self, name: str, image_id: int = -1) -> None:
        """Compute a dataset-wide tab the first time it is shown."""
        if self.review is None or self.review.scores is None:
            return
        if name == MAP_TAB:
            self.map.set_flags(self.flags)
        elif name in (FLAGGED_TAB, RANKED_TAB):
            panel = self.pages[name]
            if not panel.filled:
                panel.fill(self.flags)
        elif name == COMPARE_TAB:
            if not self.compare.filled:
                self.compare.fill(self.flags, image_id)
            elif image_id >= 0:
                self.compare.show_image(image_id)

    def show_tab(self, name: str, image_id: int = -1) -> None:
        """Show a tab; compare opens on `image_id` when it is a suspect or a duplicate."""
        if name == COMPARE_TAB:
            self._fill(COMPARE_TAB, image_id)
        self.setCurrentIndex(TABS.index(name))

    def _on_tab(self, _index: int) -> None:
        name = self.name
        self._fill(name)
        self.map.set_active(name == MAP_TAB)
        self.tab_shown.emit(name)

    def _forward_current(self, panel, image_id: int) -> None:
        if self.currentWidget() is panel:
            self.image_current.emit(int(image_id))

    def _forward_selection(self, panel, ids) -> None:
        if self.currentWidget() is panel:
            self.image_selection.emit(ids)

    # ----------------------------------------------------------------- the shown selection
    def image_view(self):
        """The tab whose own selection the curation keys act on (None: the cluster
        gallery's)."""
        page = self.currentWidget()
        return page if page in (self.flagged, self.ranked, self.compare) else None

    def dataset_gallery(self) -> DatasetPanel | None:
        page = self.currentWidget()
        return page if page in self.galleries else None

    def current_id(self) -> int:
        view = self.image_view()
        return view.current_id() if view is not None else -1

    def viewports(self) -> list:
        """The thumbnail views on screen (painted to request their thumbnails)."""
        page = self.currentWidget()
        if page in self.galleries:
            return [page.view.viewport()]
        if page is self.compare:
            return [s.view.viewport() for s in (self.compare.subject, self.compare.own,
                                                 self.compare.nearer)]
        return []

    def idle(self) -> bool:
        return self.map.wait(0)

    # ----------------------------------------------------------------- after an action
    def on_changed(self, cmd) -> None:
        """A command was applied or reverted (after the window re-read the store)."""
        if self.review is None:
            return
        if isinstance(cmd, cur.SetAnnotation):
            for panel in self.galleries:
                if panel.filled:
                    panel.refresh_images(cmd.ids)
            self.compare.refresh_images(cmd.ids)
        elif isinstance(cmd, (cur.MoveImages, cur.MergeClusters)):
            for panel in self.galleries:  # cluster names and order changed
                if panel.filled:
                    panel.fill(self.flags)
            if self.compare.filled:
                self.compare.fill(self.flags)
            self.map.refresh(force=True)

    def nearer_target(self, image_id: int) -> tuple[int, str] | None:
        """(image, nearer cluster's name) for Shift+M: compare's suspect, else `image_id` when
        it is an identity suspect whose nearer cluster still exists."""
        if self.currentWidget() is self.compare:
            return self.compare.nearer_target()
        rv, flags = self.review, self.flags
        if rv is None or flags is None or image_id < 0 or rv.run is None \
                or not flags.mask(IDENTITY_SUSPECT)[image_id]:
            return None
        s = suspect_of(image_id, rv.labels, rv.summaries.names,
                       rv.project.flag_details(rv.run.id, image_id=image_id))
        return (image_id, s.nearer_name) if s.nearer >= 0 and s.nearer != s.cluster else None


class ViewCuration(CurationActions):
    """The window's curation actions, on the selection of the tab shown."""

    def targets(self) -> np.ndarray:
        view = self.w.views.image_view()
        return view.targets() if view is not None else super().targets()
