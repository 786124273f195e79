"""The main window: wires the start screen, cluster list, gallery, inspector, jobs, the undo
history and the status bar.

It owns no computation (that is `fiqa_gui.core`), no drawing (that is the panels) and no curation
logic (that is `curation_actions` over `curation_controller`): it opens projects through jobs,
builds the menus from `shortcuts`, routes selections between panels, and remembers the layout.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QByteArray, QEventLoop, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.review.clusters import showcase_cluster
from fiqa_gui.core.review.review_data import ReviewData, scoring_available
from fiqa_gui.core.store.project import ProjectLocked, ProjectNotWritable
from fiqa_gui.gui import erc_panel, learning_panel, navigation, project_jobs, resume
from fiqa_gui.gui.cluster_table import ClusterPanel
from fiqa_gui.gui.clustering_panel import ClusteringActions, ClusteringPanel
from fiqa_gui.gui.curation_controller import CurationController
from fiqa_gui.gui.export_dialog import ExportDialog
from fiqa_gui.gui.focus_ring import FocusRing
from fiqa_gui.gui.gallery_view import GalleryPanel
from fiqa_gui.gui.help_dialogs import AboutDialog, ScoreGuideDialog
from fiqa_gui.gui.history_panel import HistoryPanel
from fiqa_gui.gui.inspector import InspectorPanel
from fiqa_gui.gui.jobs import JobRunner, LatestOnly
from fiqa_gui.gui.new_project_dialog import NewProjectDialog
from fiqa_gui.gui.read_only_prompt import ReadOnlyPrompt, read_only_question
from fiqa_gui.gui.rescore_dialog import RescoreDialog
from fiqa_gui.gui.seed_actions import SeedActions
from fiqa_gui.gui.seed_panel import SeedPanel
from fiqa_gui.gui.settings import AppSettings
from fiqa_gui.gui.shortcuts import SHORTCUTS, WIDGET_KEYS, key_text, make_action
from fiqa_gui.gui.shortcuts_dialog import ShortcutsDialog
from fiqa_gui.gui.start_screen import StartScreen
from fiqa_gui.gui.status_bar import StatusBar
from fiqa_gui.gui.theme import THEMES, apply_theme
from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader
from fiqa_gui.gui.view_tabs import MAP_TAB, TABS, ViewCuration, ViewTabs

# Actions that change the project: off while it is read-only or a job uses its connection.
EDIT_ACTIONS = ("tier_high", "tier_mid", "tier_low", "tier_unusable", "tier_clear",
                "seed_approve", "seed_reject", "seed_clear", "wrong_identity",
                "corrected_score", "note", "move", "move_nearer", "done_next",
                "state_unreviewed", "state_in_review", "state_done", "merge")


# How the three panels share the width (cluster list, gallery, inspector).
PANEL_SHARES = (0.21, 0.37, 0.42)
# The window fits a 1280×720 screen with its frame, title bar and a task bar (see app.py).
MIN_WINDOW = (1240, 640)


def _scrollable(panel: QWidget) -> QScrollArea:
    """A dock's panel in a scroll area: the dock may be made short without clipping it."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setMinimumHeight(60)
    return area


def settle_memory(collect: bool = True) -> None:
    """Move every live object to the garbage collector's permanent generation.

    A project at 100 k images holds hundreds of thousands of small containers (paths, flags),
    and the first similarity picture or scoring run imports torch and scipy (another ~150 k
    functions and dicts); all live for the session. Without this, each full collection walks
    them all and stalls the GUI thread for ~100 ms at random moments. Frozen objects are still
    freed normally when their last reference goes; only the cycle search skips them.
    `gc.freeze()` alone is O(1); `collect` first clears garbage so that none is frozen."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


DETECT_DELAY_MS = 300  # the device detection (and torch import) starts this long after start
DETECT_AFTER_JOB_MS = 1000  # or this long after a job running then (opening a project) ends


class MainWindow(QMainWindow):
    """Start screen until a project is open, then cluster list | gallery | inspector."""

    project_opened = Signal(object)  # ReviewData

    def __init__(self, settings: AppSettings | None = None, *, detect_device: bool = True,
                 parent=None) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.review: ReviewData | None = None
        self.dark = False
        self.setWindowTitle("FIQA Curator")
        from fiqa_gui.gui.app import application_icon

        self.setWindowIcon(application_icon())

        self.jobs = JobRunner(self, self)
        self.controller = CurationController(self.jobs.show_message, self)
        self.loader = ThumbnailLoader(parent=self)
        self.start = StartScreen()
        self.clusters = ClusterPanel()
        self.gallery = GalleryPanel(self.loader, self.settings.thumbnail_size())
        self.inspector = InspectorPanel()
        self.banner = self._make_banner()

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.clusters)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.gallery, 1)
        # the centre: the cluster gallery and the views over the whole dataset, as tabs
        self.views = ViewTabs(self.loader, centre, self.settings.thumbnail_size())
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.inspector)
        self.splitter.setChildrenCollapsible(False)
        self.clusters.setMinimumWidth(230)
        self.gallery.setMinimumWidth(300)
        self.inspector.setMinimumWidth(330)
        # extra width is shared by every panel (a side panel squeezed once grows back)
        for k, share in enumerate(PANEL_SHARES):
            self.splitter.setStretchFactor(k, int(share * 100))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.status.attach(self.jobs)
        self.curation = ViewCuration(self, self.controller)
        self.history = HistoryPanel(self.controller)
        self.history_dock = QDockWidget("Undo history", self)
        self.history_dock.setObjectName("history_dock")
        self.history_dock.setWidget(self.history)
        self.seed_panel = SeedPanel()
        self.seed_dock = QDockWidget("Seed set", self)
        self.seed_dock.setObjectName("seed_dock")
        self.seed_dock.setWidget(_scrollable(self.seed_panel))
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.seed_dock)
        self.seeds = SeedActions(self, self.seed_panel)
        self.clustering_panel = ClusteringPanel()
        self.clustering_dock = QDockWidget("Sub-clusters", self)
        self.clustering_dock.setObjectName("clustering_dock")
        self.clustering_dock.setWidget(_scrollable(self.clustering_panel))
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.clustering_dock)
        self.tabifyDockWidget(self.seed_dock, self.clustering_dock)
        # the undo history is a tab beside them: docked at the side it took the gallery's width
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        self.tabifyDockWidget(self.clustering_dock, self.history_dock)
        self.history_dock.hide()
        self.seed_dock.raise_()
        self.docks = (self.seed_dock, self.clustering_dock, self.history_dock)
        self.subclusters = ClusteringActions(self, self.clustering_panel)
        self.focus_ring = FocusRing(self)
        QApplication.instance().focusChanged.connect(self._focus_moved)
        self.stack.currentChanged.connect(
            lambda _i: self._focus_moved(None, QApplication.focusWidget()))
        self._docks_sized = False  # the bottom docks get their default height on first show
        self.read_only_prompt: ReadOnlyPrompt | None = None
        self.rescore_dialog: RescoreDialog | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.score_guide: ScoreGuideDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.export_dialog: ExportDialog | None = None

        self._make_actions()
        self._wire()
        self._restore()
        # the docks belong to an open project: hidden on the start screen, back as they were
        self._docks_wanted = {d.objectName(): not d.isHidden() for d in self.docks}
        if (s := self.settings.state("docks_shown")) is not None:
            shown = bytes(s).decode("ascii", "replace").split(",")
            self._docks_wanted = {d.objectName(): d.objectName() in shown for d in self.docks}
        self._project_docks(False)
        self.start.set_recent(self.settings.recent_projects())
        self._device = LatestOnly(self)
        if detect_device:
            # torch takes a second or two to import: off the GUI thread, soon after the window
            # is up, so that it is done by the time the user works — but after a project being
            # opened meanwhile is on screen (both want the cores and the GIL)
            QTimer.singleShot(DETECT_DELAY_MS, self._detect_device)

    # ----------------------------------------------------------------- construction
    def _make_banner(self) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        frame.setStyleSheet("QFrame { background: rgba(230, 162, 60, 60); }")
        row = QHBoxLayout(frame)
        self.banner_text = QLabel("This project has no scores yet: the gallery is in file order.")
        self.score_button = QPushButton("Score now")
        self.score_button.setToolTip("Compute SDD, CR and image-quality cues for every image "
                                     "(runs in the background; Cancel in the status bar)")
        self.score_button.clicked.connect(self.score_now)
        row.addWidget(self.banner_text, 1)
        row.addWidget(self.score_button)
        frame.setVisible(False)
        return frame

    def _handlers(self) -> dict:
        """What each entry of `shortcuts.SHORTCUTS` does."""
        c = self.curation
        return {
            "new_images": lambda: self.new_project("images"),
            "new_manifest": lambda: self.new_project("manifest"),
            "open": lambda: self.open_project_dialog(),
            "open_read_only": lambda: self.open_project_dialog(read_only=True),
            "demo": self.open_demo,
            "export": self.show_export,
            "close": self.close_project,
            "quit": self.close,
            "undo": self.controller.undo,
            "redo": self.controller.redo,
            "history": self.toggle_history,
            "tier_high": lambda: c.set_tier("high"),
            "tier_mid": lambda: c.set_tier("mid"),
            "tier_low": lambda: c.set_tier("low"),
            "tier_unusable": lambda: c.set_tier("unusable"),
            "tier_clear": lambda: c.set_tier(None),
            "seed_approve": lambda: c.set_seed("approved"),
            "seed_reject": lambda: c.set_seed("rejected"),
            "seed_clear": lambda: c.set_seed(None),
            "wrong_identity": c.toggle_wrong,
            "corrected_score": self.inspector.editor.edit_score,
            "note": self.inspector.editor.edit_note,
            "move": c.ask_move,
            "move_nearer": self.move_nearer,
            "next_image": lambda: self.image_view().step_image(1),
            "prev_image": lambda: self.image_view().step_image(-1),
            "next_cluster": lambda: self.clusters.step(1),
            "prev_cluster": lambda: self.clusters.step(-1),
            "next_flagged": self.next_flagged,
            "done_next": c.done_and_next,
            "state_unreviewed": lambda: c.set_review_state("unreviewed"),
            "state_in_review": lambda: c.set_review_state("in_review"),
            "state_done": lambda: c.set_review_state("done"),
            "merge": c.ask_merge,
            "filter_clusters": self.clusters.focus_filter,
            "rank_next": self.cycle_rank,
            "reverse": lambda: self.shown_gallery().toggle_order(),
            "larger": lambda: self.shown_gallery().grow(16),
            "smaller": lambda: self.shown_gallery().grow(-16),
            "clear_filters": lambda: self.shown_gallery().clear_filters(),
            **{f"view_{name}": (lambda n=name: self.show_view(n)) for name in TABS},
            "score_now": self.score_now,
            "rescore": self.rescore_with_seeds,
            "learn": lambda: learning_panel.show_learning(self),
            "review_next": lambda: learning_panel.next_to_review(self),
            "escape": self.escape,
            "shortcuts": self.show_shortcuts,
            "score_guide": self.show_score_guide,
            "about": self.show_about,
        }

    def _make_actions(self) -> None:
        mb = self.menuBar()
        menus: dict[str, object] = {}
        for title in ("File", "Edit", "Image", "Cluster", "View", "Scoring", "Help"):
            menus[title] = mb.addMenu(f"&{title}")
        handlers = self._handlers()
        self.actions_by_name: dict[str, QAction] = {}
        self.gallery_actions: list[QAction] = []
        for spec in SHORTCUTS:
            a = make_action(self, spec, handlers[spec.name])
            self.actions_by_name[spec.name] = a
            self.addAction(a)
            if spec.scope == "gallery":
                self.gallery_actions.append(a)  # also added to the large preview
            if spec.menu:
                path = spec.menu.split("/")
                menu = menus[path[0]]
                for sub in path[1:]:
                    key = "/".join(path[:path.index(sub) + 1])
                    if key not in menus:
                        menus[key] = menu.addMenu(sub)
                    menu = menus[key]
                if spec.separator:
                    menu.addSeparator()
                menu.addAction(a)
            if spec.name == "demo":
                self.recent_menu = menus["File"].addMenu("Open &recent")
        self.menus = menus
        for panel in (self.gallery, *self.views.galleries):
            panel.preview_actions = self.gallery_actions
        a = self.actions_by_name
        self.close_action = a["close"]
        self.score_action = a["score_now"]
        self.rescore_action = a["rescore"]
        erc_panel.add_erc_action(self)  # Scoring → Evaluate labels… (issue #15)
        self.learn_action, self.review_next_action = a["learn"], a["review_next"]  # (#16)
        self.undo_action, self.redo_action = a["undo"], a["redo"]
        a["history"].setCheckable(True)

        self._build_view_menu(menus["View"])
        self.clusters.context_actions = [a["state_done"], a["state_in_review"],
                                         a["state_unreviewed"], None, a["merge"], None,
                                         a["next_flagged"]]
        self._update_actions()

    def _build_view_menu(self, v) -> None:
        """View, after its shortcut entries (the tabs, ranking, sizes): theme, the docks, the
        thumbnail cache."""
        v.addSeparator()
        theme_menu = v.addMenu("Theme")
        group = QActionGroup(self)
        self.theme_actions = {}
        for name in THEMES:
            t = QAction(name.capitalize(), self, checkable=True)
            t.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(t)
            theme_menu.addAction(t)
            self.theme_actions[name] = t
        v.addSeparator()
        seed_toggle = self.seed_dock.toggleViewAction()
        seed_toggle.setText("Seed &panel")
        v.addAction(seed_toggle)
        sub_toggle = self.clustering_dock.toggleViewAction()
        sub_toggle.setText("Sub-&clusters panel")
        v.addAction(sub_toggle)
        v.addSeparator()
        warm = v.addAction("Warm up the thumbnail cache")
        warm.setStatusTip("Decode every thumbnail once in the background")
        warm.triggered.connect(self.warm_thumbnails)

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(group, what, keys) for every keyed action of the window and the widgets' own keys
        (what the shortcuts dialog lists)."""
        rows = []
        for spec in SHORTCUTS:
            action = self.actions_by_name[spec.name]
            keys = [k.toString() for k in action.shortcuts()]
            if keys:
                rows.append((spec.group, spec.text.replace("&", "").rstrip("…"),
                             key_text(keys)))
        rows += [(group, what, keys) for keys, what, group in WIDGET_KEYS]
        return rows

    def _wire(self) -> None:
        self.start.new_requested.connect(self.new_project)
        self.start.open_requested.connect(self.open_project_dialog)
        self.start.demo_requested.connect(self.open_demo)
        self.start.forget_requested.connect(self._forget_recent)
        self.clusters.cluster_selected.connect(self.show_cluster)
        self.gallery.current_changed.connect(self._gallery_current)
        self.gallery.selection_changed.connect(self._gallery_selection)
        self.views.image_current.connect(self._view_current)
        self.views.image_selection.connect(self.inspector.highlight)
        self.views.tab_shown.connect(self._tab_shown)
        self.views.map.image_clicked.connect(self._map_clicked)
        self.views.compare.move_requested.connect(lambda ids, name: self.curation.move(ids, name))
        self.controller.changed.connect(self.views.on_changed)  # after the window's refresh
        for panel in (self.gallery, *self.views.galleries):
            panel.size_slider.valueChanged.connect(self._share_size)
            # scrolling is not resting: the inspector's deferred work waits (large projects)
            panel.view.verticalScrollBar().valueChanged.connect(
                lambda _v: self.inspector.postpone())
        self.gallery.rank_changed.connect(self._on_rank_changed)
        self.gallery.run_selected.connect(self.show_run)
        self.gallery.clear_range_button.clicked.connect(self.inspector.reset_range)
        self.inspector.image_clicked.connect(self._inspector_clicked)
        self.inspector.range_changed.connect(self.gallery.set_range)
        self.inspector.range_cleared.connect(self.gallery.clear_range)
        self.inspector.annotation_edited.connect(self.curation.edit)
        self.inspector.editor.finished.connect(lambda: self.gallery.view.setFocus())
        self.jobs.started.connect(lambda *_: self._update_actions())
        self.jobs.finished.connect(lambda *_: self._update_actions())
        self.jobs.finished.connect(lambda *_: self.seeds.refresh())
        self.jobs.finished.connect(lambda *_: settle_memory(collect=False))
        self.inspector.similarity_shown.connect(lambda: settle_memory(collect=False))
        self.gallery.size_slider.valueChanged.connect(self.settings.set_thumbnail_size)
        self.controller.message.connect(lambda text: self.status.showMessage(text, 4000))
        stack = self.controller.stack
        for signal in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged,
                       stack.redoTextChanged):
            signal.connect(lambda *_: self._update_undo_actions())
        self._place_timer = QTimer(self)
        self._place_timer.setSingleShot(True)
        self._place_timer.setInterval(500)
        self._place_timer.timeout.connect(self.save_place)
        for signal in (self.gallery.current_changed, self.gallery.shown_changed,
                       self.gallery.rank_changed):
            signal.connect(lambda *_: self._place_timer.start())
        self.history_dock.visibilityChanged.connect(
            lambda visible: self.actions_by_name["history"].setChecked(visible))

    # ----------------------------------------------------------------- settings
    def _restore(self) -> None:
        geometry = self.settings.state("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1500, 940)
        if not (s := self.settings.state("main_splitter")) or not self.splitter.restoreState(s):
            self.share_width()
        if s := self.settings.state("inspector_plots"):
            self.inspector.plots.restoreState(s)
        if s := self.settings.state("inspector_bottom"):
            self.inspector.bottom.restoreState(s)
        if s := self.settings.state("cluster_columns"):
            self.clusters.table.horizontalHeader().restoreState(s)
        if (s := self.settings.state("window_state")) and self.restoreState(s):
            self._docks_sized = True  # the curator's own dock layout
        theme = self.settings.theme()
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)
        self.set_theme(theme, save=False)

    def _project_docks(self, shown: bool) -> None:
        """Show the docks the curator had (a project is open) or hide them all (start
        screen), remembering which were shown."""
        if not shown and getattr(self, "_docks_live", False):
            self._docks_wanted = {d.objectName(): not d.isHidden() for d in self.docks}
        self._docks_live = shown
        for d in self.docks:
            d.setVisible(shown and self._docks_wanted.get(d.objectName(), False))
        if shown and self._docks_wanted.get("seed_dock"):
            self.seed_dock.raise_()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            self._docks_sized = True
            self.size_docks()

    def size_docks(self) -> None:
        """Give the seed/sub-cluster docks a fifth of the height, 140–260 px (docks size only
        once shown)."""
        self.resizeDocks([self.seed_dock], [min(260, max(140, self.height() // 5))],
                         Qt.Orientation.Vertical)

    def share_width(self, width: int | None = None) -> None:
        """Split the width between the three panels by `PANEL_SHARES`."""
        w = max(width or self.width(), 900)
        sizes = [int(w * share) for share in PANEL_SHARES]
        self.splitter.setSizes(sizes)

    def save_settings(self) -> None:
        self.save_place()
        self.settings.set_state("geometry", self.saveGeometry())
        if self._docks_live:
            self._docks_wanted = {d.objectName(): not d.isHidden() for d in self.docks}
        self.settings.set_state("window_state", self.saveState())
        self.settings.set_state("docks_shown", QByteArray(",".join(
            name for name, on in self._docks_wanted.items() if on).encode("ascii")))
        self.settings.set_state("main_splitter", self.splitter.saveState())
        self.settings.set_state("inspector_plots", self.inspector.plots.saveState())
        self.settings.set_state("inspector_bottom", self.inspector.bottom.saveState())
        self.settings.set_state("cluster_columns",
                                self.clusters.table.horizontalHeader().saveState())
        self.settings.sync()

    def set_theme(self, theme: str, save: bool = True) -> None:
        app = QApplication.instance()
        self.dark = apply_theme(app, theme)
        self.inspector.apply_theme(self.dark)
        self.views.map.apply_theme(self.dark)
        if save:
            self.settings.set_theme(theme)

    def _refresh_recent(self) -> None:
        recent = self.settings.recent_projects()
        self.start.set_recent(recent)
        self.recent_menu.clear()
        for folder in recent:
            a = self.recent_menu.addAction(folder)
            a.triggered.connect(lambda _=False, p=folder: self.open_project(p))
        self.recent_menu.setEnabled(bool(recent))

    def _forget_recent(self, folder: str) -> None:
        self.settings.remove_recent(folder)
        self._refresh_recent()

    # ----------------------------------------------------------------- projects
    def open_project_dialog(self, folder: str = "", read_only: bool = False) -> None:
        if not folder:
            folder = QFileDialog.getExistingDirectory(
                self, "Open a FIQA Curator project" + (" read-only" if read_only else ""))
            if not folder:
                return
        self.open_project(folder, read_only=read_only)

    def open_project(self, folder, on_open=None, *, read_only: bool = False,
                     run_id: int | None = None) -> bool:
        """Load a project (a folder, or the open `Project` to reload it) in the background; the
        window switches to it when it is ready. A project another process holds, or a folder
        that cannot be written, is offered read-only instead."""
        source = folder
        place: dict = {}
        if not isinstance(folder, (str, Path)):
            folder = folder.folder
        elif self.review is not None and Path(folder).absolute() == self.review.folder \
                and read_only == self.review.read_only:
            source = self.review.project  # already open here: reload it, keep its lock
        else:  # a fresh open: back to where the curator was in it
            place = resume.decode(self.settings.project_place(folder))
        saved_run = place.get("run_id") if run_id is None else None

        def done(review: ReviewData) -> None:
            self.set_review(review)
            if place:
                resume.apply(self, place)
            if on_open is not None:
                on_open(review)

        def failed(err) -> bool:
            if isinstance(err, (ProjectLocked, ProjectNotWritable)) and not read_only:
                self._offer_read_only(folder, err, on_open)
                return True
            if self.review is None:
                self.stack.setCurrentWidget(self.start)
            return False

        title = f"Opening {Path(folder).name}" + (" read-only" if read_only else "")
        work = project_jobs.open_project(source, run_id=run_id, read_only=read_only)
        if isinstance(saved_run, int):
            work = project_jobs.open_project_at_run(source, saved_run, read_only=read_only)
        job = self.jobs.run(title, work, done, on_failed=failed)
        return job is not None

    def save_place(self) -> None:
        """Remember where the curator is in the open project (cluster, image, filters,
        ranking, grouping, run) for the next time it is opened."""
        if self.review is not None:
            self.settings.set_project_place(self.review.folder,
                                            resume.encode(resume.capture(self)))

    def _offer_read_only(self, folder, err, on_open) -> None:
        """Another process has the project (or the folder is read-only): offer to look at it
        read-only, or cancel."""
        title, text = read_only_question(err, folder)
        self.jobs.last_message = (title, text)
        # not "Opening …: failed" while the question is still open
        self.status.showMessage(f"{Path(folder).name} is in use or cannot be written: "
                                "open it read-only?")
        if self.review is None:
            self.stack.setCurrentWidget(self.start)
        if not self.jobs.show_dialogs:
            return
        self.read_only_prompt = ReadOnlyPrompt(
            title, text, lambda: self.open_project(folder, on_open, read_only=True), self)
        self.read_only_prompt.open()

    def show_run(self, run_id: int) -> bool:
        """Show another stored run of the open project."""
        if self.review is None:
            return False
        return self.open_project(self.review.project, run_id=run_id)

    def set_review(self, review: ReviewData | None) -> None:
        """Show a loaded project (or none); closes the previous one. A reload of the same
        project (another run, after scoring) keeps the cluster and image shown."""
        if self.review is not None and (review is None or review.project is not
                                        self.review.project):
            self.save_place()
        old_cluster_db = self.curation.current_cluster_db_id() if self.review else -1
        old_image = self.gallery.current_id() if self.review else -1
        old, self.review = self.review, review
        self.controller.set_project(review.project if review else None,
                                    review.read_only if review else False)
        self.loader.set_cache_dir(review.project.thumbnails_dir if review else None)
        self.inspector.set_review(review)
        self.gallery.set_review(review)
        self.views.set_review(review)
        same = review is not None and old is not None and old.project is review.project
        self.clusters.set_summaries(review.summaries if review else None,
                                    review.cluster_explanations if review else None,
                                    keep_filters=same)
        self.clusters.model.describe = self._describe_cluster
        self.subclusters.set_review(review)
        self.seeds.set_review(review)
        if old is not None and (review is None or old.project is not review.project):
            old.close()
        # a full collection walks every object of a 1 M-image project (~0.5 s on the GUI
        # thread): only when a previous project's leftovers may hold cycles
        settle_memory(collect=old is not None)
        self._update_actions()
        self.status.set_read_only(review is not None and review.read_only)
        self._project_docks(review is not None)
        if review is None:
            self.setWindowTitle("FIQA Curator")
            self.stack.setCurrentWidget(self.start)
            self.status.set_counts("")
            self._refresh_recent()
            return
        self.settings.add_recent(review.folder)
        self._refresh_recent()
        self.setWindowTitle(f"{review.folder.name}"
                            + (" [read-only]" if review.read_only else "") + " — FIQA Curator")
        self.stack.setCurrentWidget(self.splitter)
        self.banner.setVisible(review.scores is None)
        self.banner_text.setText(
            "This project has no scores yet: the gallery is in file order."
            if scoring_available() else
            "This project has no scores yet, and the scoring package is not installed.")
        self.status.set_counts(self.counts_text())
        if len(review.summaries):
            first = showcase_cluster(review.summaries) if review.scores is not None else 0
            if same and old_cluster_db >= 0 and review.cluster_index_of(old_cluster_db) >= 0:
                first = review.cluster_index_of(old_cluster_db)
            if not self.clusters.select_cluster(first):
                self.clusters.step(0)
            if same and old_image >= 0:
                self.gallery.select_image(old_image)
            elif not same:
                self.gallery.view.setFocus()  # keyboard-first: the tier keys work at once
        self.project_opened.emit(review)

    def counts_text(self) -> str:
        rv = self.review
        if rv is None:
            return ""
        run = rv.run
        return (f"{rv.n_images:,} images · {len(rv.summaries):,} clusters · "
                + (f"run #{run.id} {run.kind} ({run.device or '?'})" if run else "not scored"))

    def _describe_cluster(self, c: int) -> str:
        """Extra tooltip of a cluster's name: how SDD and Quality rank it differently."""
        shift = self.review.rank_shift(c) if self.review is not None else None
        if shift is None or shift.n < 3 or shift.spearman != shift.spearman:
            return ""
        text = f"SDD → Quality: Spearman {shift.spearman:.2f}"
        if shift.mover >= 0:
            text += (f"; biggest mover #{shift.mover} "
                     f"{'up' if shift.move > 0 else 'down'} {abs(shift.move)} places")
        return text

    def close_project(self) -> None:
        if self.jobs.busy:
            return
        self.settings.clear_last_project()
        self.set_review(None)

    def new_project(self, kind: str, dialog: NewProjectDialog | None = None) -> None:
        """Ask for the sources, then create the project in the background. When that fails on
        the user's input (a bad manifest row, embeddings of the wrong length, …) the same
        dialog comes back with every field as it was and the message in it."""
        dialog = dialog or NewProjectDialog(kind, self)
        if dialog.exec() != NewProjectDialog.DialogCode.Accepted:
            return

        def failed(err: BaseException) -> bool:
            if not isinstance(err, UserInputError):
                return False
            dialog.error.setText(str(err))
            QTimer.singleShot(0, lambda: self.new_project(kind, dialog))
            return True

        self.jobs.run("Creating the project", dialog.job(),  # embeds photos when asked
                      lambda folder: self.open_project(folder), on_failed=failed)

    def open_demo(self, folder: str | Path | None = None, on_open=None) -> bool:
        job = self.jobs.run("Preparing the demo project", project_jobs.prepare_demo(folder),
                            lambda path: self.open_project(path, on_open))
        return job is not None

    def score_now(self, params=None) -> bool:
        """Score the open project in the background, then show the new run."""
        if self.review is None:
            return False
        if not scoring_available():
            self.jobs.show_message("Score now", "The scoring package is not installed in this "
                                   "build of FIQA Curator, so the project cannot be scored.")
            return False
        project = self.review.project
        job = self.jobs.run("Scoring", project_jobs.score_project(project, params),
                            lambda _run_id: self.open_project(project))
        return job is not None

    def rescore_with_seeds(self) -> bool:
        """Recompute Quality with the approved seeds as anchors (a new run), show the new run
        and what changed."""
        rv = self.review
        if rv is None or rv.scores is None:
            return False
        if not self.controller.can_edit:
            self.status.showMessage(self.controller.why_not(), 4000)
            return False
        project = rv.project
        base = rv.run.id if rv.run is not None else None

        def stored(summary) -> None:
            self.open_project(project, run_id=summary.run_id,
                              on_open=lambda review: self._show_rescore(summary, review))

        job = self.jobs.run("Re-scoring with approved seeds",
                            project_jobs.rescore_with_seeds(project, base), stored,
                            cancellable=False)
        return job is not None

    def _show_rescore(self, summary, review) -> RescoreDialog:
        if self.rescore_dialog is not None:
            self.rescore_dialog.close()
        dialog = RescoreDialog(summary, review.dataset.paths, self)
        dialog.image_requested.connect(self.go_to_image)
        dialog.show()
        self.rescore_dialog = dialog
        return dialog

    def go_to_image(self, image_id: int) -> bool:
        """Show an image: its cluster in the list (filters cleared if they hide it), the image
        current in the gallery."""
        rv = self.review
        if rv is None or not 0 <= image_id < rv.n_images:
            return False
        c = int(rv.labels[image_id])
        if self.gallery.cluster_id != c and not self.clusters.select_cluster(c):
            self.clusters.filter_edit.clear()
            self.clusters.set_flag_filter("__any__")
            self.clusters.set_state_filter("__any__")
            self.clusters.select_cluster(c)
        return self.gallery.select_image(image_id)

    def warm_thumbnails(self) -> None:
        if self.review is None:
            return
        ds = self.review.dataset
        paths = [str(p) for p in ds.absolute_paths()]
        self.jobs.run("Warming the thumbnail cache", project_jobs.warm_thumbnails(
            paths, self.review.project.thumbnails_dir, self.loader.bucket))

    # ----------------------------------------------------------------- routing
    def show_cluster(self, cluster_id: int) -> None:
        if self.review is None or cluster_id < 0:
            return
        self.gallery.set_cluster(cluster_id)
        self.inspector.show_cluster(cluster_id, self.gallery.ranked_ids(), self.gallery.by)
        self.seeds.refresh()
        self.subclusters.describe_cluster()
        self.views.map.set_cluster(cluster_id)

    def _on_rank_changed(self, by: str, _descending: bool) -> None:
        if self.gallery.cluster_id >= 0:
            self.inspector.show_cluster(self.gallery.cluster_id, self.gallery.ranked_ids(), by)
            self.inspector.show_image(self.gallery.current_id())

    def cycle_rank(self) -> None:
        combo = self.shown_gallery().rank_combo
        if combo.count() and combo.isEnabled():
            combo.setCurrentIndex((combo.currentIndex() + 1) % combo.count())

    # ----------------------------------------------------------------- the views (tabs)
    def show_view(self, name: str) -> None:
        """Show a tab of the centre: cluster, flagged, ranked, compare (on the current image
        when it is a suspect or a duplicate), map."""
        self.views.show_tab(name, self.current_image())

    def image_view(self):
        """What J / K step through: the shown dataset-wide view, else the cluster gallery."""
        return self.views.image_view() or self.gallery

    def shown_gallery(self) -> GalleryPanel:
        """The gallery shown (rank, order, size, filters): a dataset-wide one or the
        cluster's."""
        return self.views.dataset_gallery() or self.gallery

    def current_image(self) -> int:
        """The image the curator looks at (the one the inspector shows)."""
        view = self.views.image_view()
        return view.current_id() if view is not None else self.gallery.current_id()

    def next_flagged(self) -> bool:
        panel = self.views.dataset_gallery()
        return panel.next_flagged() if panel is not None else navigation.next_flagged(self)

    def move_nearer(self) -> bool:
        """Shift+M: move the identity suspect shown to the cluster it is nearer to."""
        if self.review is None or not self.controller.can_edit:
            self.status.showMessage(self.controller.why_not(), 4000)
            return False
        target = self.views.nearer_target(self.current_image())
        if target is None:
            self.status.showMessage("This image is not an identity suspect with a nearer "
                                    "cluster (Compare, Ctrl+4, shows the suspects).", 4000)
            return False
        image, name = target
        return self.curation.move([image], name)

    def _gallery_current(self, image_id: int) -> None:
        self.views.map.mark_current(image_id)
        if self.views.image_view() is None:  # the cluster gallery (or its map) is shown
            self.inspector.show_image(image_id)

    def _gallery_selection(self, ids) -> None:
        self.views.map.highlight(ids)
        if self.views.image_view() is None:
            self.inspector.highlight(ids)

    def _view_current(self, image_id: int) -> None:
        """A dataset-wide view's current image: the cluster list, gallery and inspector go
        to its cluster, so that everything shown is about that image."""
        rv = self.review
        if rv is None or not 0 <= image_id < rv.n_images:
            return
        c = int(rv.labels[image_id])
        if self.gallery.cluster_id != c and not self.clusters.select_cluster(c):
            self.show_cluster(c)  # hidden by the list's filters: shown all the same
        self.gallery.select_image(image_id)
        self.inspector.show_image(image_id)

    def _tab_shown(self, name: str) -> None:
        if name == MAP_TAB:
            self.views.map.set_cluster(self.gallery.cluster_id)
        view = self.views.image_view()
        if view is None:
            self.inspector.show_image(self.gallery.current_id())
            self.inspector.highlight(self.gallery.selected_ids())
            self.centre_focus().setFocus()
        else:
            self._view_current(view.current_id())
            self.centre_focus().setFocus()

    def _map_clicked(self, image_id: int) -> None:
        """A point of the map: its image becomes current in the gallery (its cluster first
        when the map shows a dataset sample)."""
        if not self.gallery.select_image(image_id):
            self.go_to_image(image_id)

    def _inspector_clicked(self, image_id: int) -> None:
        view = self.views.image_view()
        if view is None or not view.select_image(image_id):
            self.gallery.select_image(image_id)

    def _share_size(self, px: int) -> None:
        """One thumbnail size for every gallery (they share the loader's decoded size)."""
        for panel in (self.gallery, *self.views.galleries):
            if panel.size_slider.value() != px:
                panel.size_slider.setValue(px)

    def escape(self) -> None:
        if self.jobs.busy:
            self.status.on_cancel_clicked()
            self.jobs.cancel()
        elif self.gallery.range is not None:
            self.gallery.clear_range()
            self.inspector.reset_range()

    def _update_actions(self) -> None:
        has = self.review is not None
        busy = self.jobs.busy
        read_only = has and self.review.read_only
        scored = has and self.review.scores is not None
        self.controller.busy = busy
        self.score_action.setEnabled(has and not busy and not read_only)
        self.rescore_action.setEnabled(scored and not busy and not read_only)
        self.score_button.setEnabled(not busy and not read_only)
        self.close_action.setEnabled(has and not busy)
        self.actions_by_name["export"].setEnabled(has and not busy)
        for name in EDIT_ACTIONS:
            self.actions_by_name[name].setEnabled(has and not busy and not read_only)
        self.start.set_busy(busy)
        self.seed_panel.set_editable(has and not busy and not read_only)
        self.subclusters.set_editable(has and not busy and not read_only)
        self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        stack = self.controller.stack
        ok = self.controller.can_edit
        try:
            can_undo, can_redo = stack.canUndo(), stack.canRedo()
        except RuntimeError:  # the stack is being destroyed with the window
            return
        self.undo_action.setEnabled(ok and can_undo)
        self.redo_action.setEnabled(ok and can_redo)
        self.undo_action.setText(f"&Undo {stack.undoText()}" if can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {stack.redoText()}" if can_redo else "&Redo")

    # ----------------------------------------------------------------- focus
    def focus_panels(self) -> list[QWidget]:
        """The panels Tab moves between, in order (each by the widget that takes the focus)."""
        panels = [self.clusters.table, self.centre_focus(), self.inspector.editor.tier]
        if self.seed_dock.isVisible() and not self.seed_dock.visibleRegion().isEmpty():
            panels.append(self.seed_panel.table)
        return [p for p in panels if p.isVisible() and p.isEnabled()]

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: A002,N802 - Qt's names
        """Tab / Shift+Tab: the next / previous panel, never cell by cell or button by
        button inside one (a dialog keeps Qt's usual order)."""
        if self.stack.currentWidget() is not self.splitter:
            return super().focusNextPrevChild(next)
        panels = self.focus_panels()
        if not panels:
            return super().focusNextPrevChild(next)
        focus = QApplication.focusWidget()
        here = -1
        for k, p in enumerate(panels):
            owner = self._panel_of(p)
            if focus is not None and (focus is p or owner.isAncestorOf(focus)):
                here = k
                break
        k = (here + (1 if next else -1)) % len(panels) if here >= 0 else 0
        panels[k].setFocus(Qt.FocusReason.TabFocusReason if next
                           else Qt.FocusReason.BacktabFocusReason)
        return True

    def _panel_of(self, widget: QWidget) -> QWidget:
        if widget is self.inspector.editor.tier:
            return self.inspector
        if widget is self.seed_panel.table:
            return self.seed_dock
        if widget is self.centre_focus():
            return self.views
        return self.clusters

    def centre_focus(self) -> QWidget:
        """The widget of the centre tab shown that takes the focus."""
        view = self.views.image_view()
        if view is self.views.compare:
            return self.views.compare.active.view
        if view is not None:
            return view.view
        return self.views.map.plot if self.views.name == MAP_TAB else self.gallery.view

    def focused_panel(self, widget: QWidget | None) -> QWidget | None:
        """The panel (cluster list, centre view, inspector, a dock) a widget is in, or None
        (the start screen, a dialog, a floating dock)."""
        if widget is None or widget.window() is not self \
                or self.stack.currentWidget() is not self.splitter:
            return None
        for panel in (self.clusters, self.views, self.inspector, *self.docks):
            if panel is widget or panel.isAncestorOf(widget):
                return panel
        return None

    def _focus_moved(self, _old, new) -> None:
        self.focus_ring.follow(self.focused_panel(new))

    def toggle_history(self) -> None:
        self.history_dock.setVisible(not self.history_dock.isVisible())

    def detect_device_now(self) -> None:
        """Synchronous device detection (screenshots): imports torch on this thread."""
        kind, detail = project_jobs.detect_device()
        self.status.set_device(f"device: {kind}", detail)

    def _detect_device(self) -> None:
        if self.jobs.busy:  # a project loads (or another job runs): detect when it ends
            self.jobs.finished.connect(self._detect_after_job)
            return
        self.warmed_up = False

        def shown(result) -> None:
            self.warmed_up = True
            kind, detail = result
            self.status.set_device(f"device: {kind}", detail)
            settle_memory(collect=False)  # torch was just imported

        self._device.submit(project_jobs.detect_device, shown,
                            lambda err: self.status.set_device("device: CPU", str(err)))

    def _detect_after_job(self, *_args) -> None:
        self.jobs.finished.disconnect(self._detect_after_job)
        # after the job's result is on screen and its first plots are painted: the import
        # holds the GIL for long stretches, and Python painting beside it crawls
        QTimer.singleShot(DETECT_AFTER_JOB_MS, self._detect_device)

    def show_export(self) -> ExportDialog | None:
        """File → Export…: a dialog for the open project (non-modal; the export runs as a job)."""
        if self.review is None:
            return None
        if self.export_dialog is not None:
            self.export_dialog.close()
        self.export_dialog = ExportDialog(self, self.review.folder / "export")
        self.export_dialog.show()
        return self.export_dialog

    def show_score_guide(self) -> ScoreGuideDialog:
        if self.score_guide is None:
            self.score_guide = ScoreGuideDialog(self)
        self.score_guide.show()
        self.score_guide.raise_()
        return self.score_guide

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        dialog.show()
        self.about_dialog = dialog
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self.shortcut_rows(), self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    # ----------------------------------------------------------------- waiting and closing
    def wait_idle(self, timeout_ms: int = 30000) -> bool:
        """Run the event loop until no job runs, the thumbnails on screen have landed and the
        inspector's plots are drawn (screenshots, tests). False on timeout."""
        app = QApplication.instance()
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.start(timeout_ms)
        poll = QTimer()
        poll.start(10)  # wakes the loop below while workers run
        try:
            while deadline.isActive():
                app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
                if self.jobs.busy:
                    continue
                self.gallery.view.viewport().repaint()  # requests what is visible
                for viewport in self.views.viewports():
                    viewport.repaint()
                app.processEvents()
                if self.loader.idle() and self.inspector.wait_similarity(0) \
                        and self.views.idle():
                    app.processEvents()
                    if self.loader.idle() and not self.jobs.busy:
                        return True
            return False
        finally:
            poll.stop()

    def shutdown(self) -> None:
        """Stop every worker and close the project (idempotent)."""
        try:
            QApplication.instance().focusChanged.disconnect(self._focus_moved)
        except (RuntimeError, TypeError):
            pass  # already disconnected
        self.controller.stack.blockSignals(True)
        self.controller.set_project(None)
        self.controller.stack.blockSignals(False)
        self.jobs.shutdown()
        self.loader.shutdown()
        self.inspector.shutdown()
        self.views.map.shutdown()
        self._device.forget()
        self._device.wait()
        self.seeds.shutdown()
        if self.review is not None:
            self.review.close()
            self.review = None

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1500, 940)
