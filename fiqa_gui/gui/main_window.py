"""The main window: wires the start screen, cluster list, gallery, inspector, jobs and status bar.

It owns no computation (that is `fiqa_gui.core`) and no drawing (that is the panels): it opens
projects through jobs, routes selections between panels, and remembers the layout.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.review import ReviewData, scoring_available, showcase_cluster
from fiqa_gui.gui import project_jobs
from fiqa_gui.gui.cluster_table import ClusterPanel
from fiqa_gui.gui.gallery_view import GalleryPanel
from fiqa_gui.gui.inspector import InspectorPanel
from fiqa_gui.gui.jobs import JobRunner, LatestOnly
from fiqa_gui.gui.new_project_dialog import NewProjectDialog
from fiqa_gui.gui.settings import AppSettings
from fiqa_gui.gui.start_screen import StartScreen
from fiqa_gui.gui.status_bar import StatusBar
from fiqa_gui.gui.theme import THEMES, apply_theme
from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader

SHORTCUTS = (
    ("Ctrl+O", "Open a project"),
    ("Ctrl+N", "New project from an image folder"),
    ("Ctrl+F", "Filter the cluster list"),
    ("Alt+Down / Alt+Up", "Next / previous cluster (also ] and [)"),
    ("Arrow keys", "Move in the cluster list or the gallery"),
    ("Shift/Ctrl + click, Ctrl+A", "Select several images"),
    ("Space / Enter / double-click", "Large preview of the current image"),
    ("R", "Rank by the next score"),
    ("O", "Reverse the order (high first / low first)"),
    ("Ctrl+= / Ctrl+-", "Larger / smaller thumbnails"),
    ("Esc", "Cancel the running job, else clear the score range"),
    ("Ctrl+Shift+S", "Score now (a new scoring run)"),
    ("F1", "This list"),
)


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

        self.jobs = JobRunner(self, self)
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
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.inspector)
        self.splitter.setChildrenCollapsible(False)
        self.clusters.setMinimumWidth(240)
        self.inspector.setMinimumWidth(360)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.status.attach(self.jobs)

        self._make_actions()
        self._wire()
        self._restore()
        self.start.set_recent(self.settings.recent_projects())
        self._device = LatestOnly(self)
        if detect_device:
            # torch takes a second or two to import: off the GUI thread, as soon as the event
            # loop runs, so that it is done by the time the user works
            QTimer.singleShot(0, self._detect_device)

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

    def _action(self, text: str, slot, shortcut=None, menu=None, tip: str | None = None):
        a = QAction(text, self)
        if shortcut:
            a.setShortcuts([QKeySequence(s) for s in
                            (shortcut if isinstance(shortcut, tuple) else (shortcut,))])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        if menu is not None:
            menu.addAction(a)
        self.addAction(a)
        return a

    def _make_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action("New project from image folder…", lambda: self.new_project("images"),
                     "Ctrl+N", f)
        self._action("New project from manifest…", lambda: self.new_project("manifest"),
                     None, f)
        self._action("&Open project…", lambda: self.open_project_dialog(), "Ctrl+O", f)
        self.recent_menu = f.addMenu("Open &recent")
        self._action("Open the &demo project", self.open_demo, None, f)
        f.addSeparator()
        self.close_action = self._action("&Close project", self.close_project, "Ctrl+W", f)
        self._action("&Quit", self.close, "Ctrl+Q", f)

        v = mb.addMenu("&View")
        self._action("Next cluster", lambda: self.clusters.step(1), ("Alt+Down", "]"), v)
        self._action("Previous cluster", lambda: self.clusters.step(-1), ("Alt+Up", "["), v)
        self._action("Filter clusters", self.clusters.focus_filter, "Ctrl+F", v)
        self._action("Rank by next score", self.cycle_rank, "R", v)
        self._action("Reverse order", self.gallery.toggle_order, "O", v)
        self._action("Larger thumbnails", lambda: self.gallery.grow(16), ("Ctrl+=", "Ctrl++"), v)
        self._action("Smaller thumbnails", lambda: self.gallery.grow(-16), "Ctrl+-", v)
        v.addSeparator()
        theme_menu = v.addMenu("Theme")
        group = QActionGroup(self)
        self.theme_actions = {}
        for name in THEMES:
            a = QAction(name.capitalize(), self, checkable=True)
            a.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(a)
            theme_menu.addAction(a)
            self.theme_actions[name] = a
        v.addSeparator()
        self._action("Warm up the thumbnail cache", self.warm_thumbnails, None, v,
                     "Decode every thumbnail once in the background")

        s = mb.addMenu("&Scoring")
        self.score_action = self._action("Score now", self.score_now, "Ctrl+Shift+S", s)
        self._action("Cancel the running job", self.escape, "Esc", None)

        h = mb.addMenu("&Help")
        self._action("Keyboard shortcuts", self.show_shortcuts, "F1", h)
        self._update_actions()

    def _wire(self) -> None:
        self.start.new_requested.connect(self.new_project)
        self.start.open_requested.connect(self.open_project_dialog)
        self.start.demo_requested.connect(self.open_demo)
        self.start.forget_requested.connect(self._forget_recent)
        self.clusters.cluster_selected.connect(self.show_cluster)
        self.gallery.current_changed.connect(self.inspector.show_image)
        self.gallery.selection_changed.connect(self.inspector.highlight)
        self.gallery.rank_changed.connect(self._on_rank_changed)
        self.gallery.clear_range_button.clicked.connect(self.inspector.reset_range)
        self.inspector.image_clicked.connect(self.gallery.select_image)
        self.inspector.range_changed.connect(self.gallery.set_range)
        self.inspector.range_cleared.connect(self.gallery.clear_range)
        self.jobs.started.connect(lambda *_: self._update_actions())
        self.jobs.finished.connect(lambda *_: self._update_actions())
        self.jobs.finished.connect(lambda *_: settle_memory(collect=False))
        self.inspector.similarity_shown.connect(lambda: settle_memory(collect=False))
        self.gallery.size_slider.valueChanged.connect(self.settings.set_thumbnail_size)

    # ----------------------------------------------------------------- settings
    def _restore(self) -> None:
        geometry = self.settings.state("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1500, 940)
        if not (s := self.settings.state("main_splitter")) or not self.splitter.restoreState(s):
            w = max(self.width(), 1200)
            self.splitter.setSizes([int(w * 0.31), int(w * 0.36), int(w * 0.33)])
        if s := self.settings.state("inspector_splitter"):
            self.inspector.splitter.restoreState(s)
        if s := self.settings.state("inspector_bottom"):
            self.inspector.bottom.restoreState(s)
        if s := self.settings.state("cluster_header"):
            self.clusters.table.horizontalHeader().restoreState(s)
        theme = self.settings.theme()
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)
        self.set_theme(theme, save=False)

    def save_settings(self) -> None:
        self.settings.set_state("geometry", self.saveGeometry())
        self.settings.set_state("main_splitter", self.splitter.saveState())
        self.settings.set_state("inspector_splitter", self.inspector.splitter.saveState())
        self.settings.set_state("inspector_bottom", self.inspector.bottom.saveState())
        self.settings.set_state("cluster_header",
                                self.clusters.table.horizontalHeader().saveState())
        self.settings.sync()

    def set_theme(self, theme: str, save: bool = True) -> None:
        app = QApplication.instance()
        self.dark = apply_theme(app, theme)
        self.inspector.apply_theme(self.dark)
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
    def open_project_dialog(self, folder: str = "") -> None:
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Open a FIQA Curator project")
            if not folder:
                return
        self.open_project(folder)

    def open_project(self, folder, on_open=None) -> bool:
        """Load a project (a folder, or the open `Project` to reload it) in the background; the
        window switches to it when it is ready."""
        source = folder
        if not isinstance(folder, (str, Path)):
            folder = folder.folder
        elif self.review is not None and Path(folder).absolute() == self.review.folder:
            source = self.review.project  # already open here: reload it, keep its lock

        def done(review: ReviewData) -> None:
            self.set_review(review)
            if on_open is not None:
                on_open(review)

        def failed(_err) -> None:
            if self.review is None:
                self.stack.setCurrentWidget(self.start)

        job = self.jobs.run(f"Opening {Path(folder).name}", project_jobs.open_project(source),
                            done, on_failed=failed)
        return job is not None

    def set_review(self, review: ReviewData | None) -> None:
        """Show a loaded project (or none); closes the previous one."""
        old, self.review = self.review, review
        self.loader.set_cache_dir(review.project.thumbnails_dir if review else None)
        self.inspector.set_review(review)
        self.gallery.set_review(review)
        self.clusters.set_summaries(review.summaries if review else None,
                                    review.cluster_explanations if review else None)
        if old is not None and (review is None or old.project is not review.project):
            old.close()
        settle_memory()
        self._update_actions()
        if review is None:
            self.setWindowTitle("FIQA Curator")
            self.stack.setCurrentWidget(self.start)
            self.status.set_counts("")
            self._refresh_recent()
            return
        self.settings.add_recent(review.folder)
        self._refresh_recent()
        self.setWindowTitle(f"{review.folder.name} — FIQA Curator")
        self.stack.setCurrentWidget(self.splitter)
        run = review.run
        self.banner.setVisible(review.scores is None)
        self.banner_text.setText(
            "This project has no scores yet: the gallery is in file order."
            if scoring_available() else
            "This project has no scores yet, and the scoring package is not installed.")
        self.status.set_counts(
            f"{review.n_images:,} images · {len(review.summaries):,} clusters · "
            + (f"run #{run.id} ({run.device or '?'})" if run else "not scored"))
        if len(review.summaries):
            first = showcase_cluster(review.summaries) if review.scores is not None else 0
            if not self.clusters.select_cluster(first):
                self.clusters.step(0)
        self.project_opened.emit(review)

    def close_project(self) -> None:
        if self.jobs.busy:
            return
        self.settings.clear_last_project()
        self.set_review(None)

    def new_project(self, kind: str) -> None:
        dialog = NewProjectDialog(kind, self)
        if dialog.exec() != NewProjectDialog.DialogCode.Accepted:
            return
        values = dialog.values()
        self.jobs.run("Creating the project", project_jobs.create_project(values),
                      lambda folder: self.open_project(folder))

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

    def _on_rank_changed(self, by: str, _descending: bool) -> None:
        if self.gallery.cluster_id >= 0:
            self.inspector.show_cluster(self.gallery.cluster_id, self.gallery.ranked_ids(), by)
            self.inspector.show_image(self.gallery.current_id())

    def cycle_rank(self) -> None:
        combo = self.gallery.rank_combo
        if combo.count() and combo.isEnabled():
            combo.setCurrentIndex((combo.currentIndex() + 1) % combo.count())

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
        self.score_action.setEnabled(has and not busy)
        self.score_button.setEnabled(not busy)
        self.close_action.setEnabled(has and not busy)
        self.start.set_busy(busy)

    def detect_device_now(self) -> None:
        """Synchronous device detection (screenshots): imports torch on this thread."""
        kind, detail = project_jobs.detect_device()
        self.status.set_device(f"device: {kind}", detail)

    def _detect_device(self) -> None:
        self.warmed_up = False

        def shown(result) -> None:
            self.warmed_up = True
            kind, detail = result
            self.status.set_device(f"device: {kind}", detail)
            settle_memory(collect=False)  # torch was just imported

        self._device.submit(project_jobs.detect_device, shown,
                            lambda err: self.status.set_device("device: CPU", str(err)))

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>"
                       for k, v in SHORTCUTS)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                          f"<table>{rows}</table>", QMessageBox.StandardButton.Close, self)
        box.open()
        self.shortcuts_box = box

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
                app.processEvents()
                if self.loader.idle() and self.inspector.wait_similarity(0):
                    app.processEvents()
                    if self.loader.idle() and not self.jobs.busy:
                        return True
            return False
        finally:
            poll.stop()

    def shutdown(self) -> None:
        """Stop every worker and close the project (idempotent)."""
        self.jobs.shutdown()
        self.loader.shutdown()
        self.inspector.shutdown()
        self._device.forget()
        self._device.wait()
        if self.review is not None:
            self.review.close()
            self.review = None

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1500, 940)
