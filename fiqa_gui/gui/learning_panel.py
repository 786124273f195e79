"""Scoring → Learn from my labels… and Review next…: the data flywheel in the window.

One turn of the wheel: the curator labels some images (tiers, corrected scores, seeds, or a
spreadsheet through `fiqa-gui import-labels`), *Learn* trains the quality model on that evidence
(`core.learning.learn.learn_project`, the same call `fiqa-gui learn` makes) as a background job
with progress and Cancel, and stores a run whose `learned` column the gallery can rank by. The
*Review next* queue (`core.learning.review_next.review_queue`) then lists the images where
`learned` and the current label disagree most or the ensemble is least sure, at most three per
cluster; Return or double-click shows one in its cluster, where the usual keys (1–4, A/R, W, C)
label it, and `Ctrl+J` (Scoring → Review next, `shortcuts.py`) goes to the next one from
anywhere. The history plot shows every turn:
labels used, validation error, and the held-out error-versus-reject AUC of `learned` against
`quality`, SDD and CR.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.evaluation.erc_plot import source_colour
from fiqa_gui.gui.theme import style_plot

QUEUE_COLUMNS = ("#", "Image", "Cluster", "Learned", "Current label", "Learned − label",
                 "Uncertainty", "Reviewed")
HISTORY_SOURCES = ("learned", "quality", "sdd", "cr")
NEXT_KEY = "Ctrl+J"


def learn_job(project, run_id: int | None, seed: int = 0):
    """`(progress, cancel) -> LearnResult` on the window's project (one writer)."""

    def run(progress, cancel):
        from fiqa_gui.core.learning.learn import learn_project

        return learn_project(project, run_id=run_id, seed=seed, progress=progress,
                             cancel=cancel)

    return run


def _num(v, digits: int = 4) -> str:
    return "—" if v is None or not math.isfinite(float(v)) else f"{float(v):.{digits}f}"


def turn_summary(row: dict) -> str:
    """One learn run in a sentence: labels, clusters, validation, held-out ERC-AUC."""
    erc = row.get("erc") or {}
    auc = erc.get("auc") or {}
    parts = [f"run #{row['run_id']}: {row.get('labels') or 0:,} labels in "
             f"{row.get('clusters_labelled') or 0:,} clusters",
             f"validated by cluster: MAE {_num(row.get('validation_mae'), 1)}, Spearman "
             f"{_num(row.get('validation_spearman'), 2)}"]
    if auc:
        held = ", ".join(f"{name} {_num(auc[name])}" for name in HISTORY_SOURCES if name in auc)
        parts.append(f"ERC-AUC at FMR {erc.get('fmr', 1e-3):g} on the "
                     f"{erc.get('scope', 'unlabelled clusters')} (lower is better): {held}")
    elif erc.get("error"):
        parts.append(f"no held-out ERC: {erc['error']}")
    return "; ".join(parts)


class HistoryPlot(pg.PlotWidget):
    """The wheel's history: held-out ERC-AUC per source over the learn turns."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "learn turn")
        self.setLabel("left", "ERC-AUC on unlabelled clusters (lower is better)")
        for name in ("left", "bottom"):
            item.getAxis(name).enableAutoSIPrefix(False)
        self.legend = item.addLegend(offset=(-10, 10))
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_history(self, rows: list[dict]) -> None:
        """ERC-AUC per source over the turns; where no turn has one (too few impostor pairs
        for FMR 1e-3 on a small project), the validation error instead, so the curator still
        sees the wheel turn."""
        self.clear()
        self.curves = {}
        turns = np.arange(1, len(rows) + 1, dtype=float)
        for k, name in enumerate(HISTORY_SOURCES):
            ys = np.array([float(((r.get("erc") or {}).get("auc") or {}).get(name, np.nan))
                           for r in rows])
            if not np.isfinite(ys).any():
                continue
            pen = pg.mkPen(source_colour(name, k), width=3 if name == "learned" else 2)
            self.curves[name] = self.plot(turns, ys, pen=pen, symbol="o", symbolSize=7,
                                          symbolBrush=source_colour(name, k), name=name)
        if self.curves:
            self.setLabel("left", "ERC-AUC on unlabelled clusters (lower is better)")
        else:
            ys = np.array([float(r.get("validation_mae") or np.nan) for r in rows])
            self.setLabel("left", "validation MAE by cluster, 0–100 (lower is better)")
            if np.isfinite(ys).any():
                colour = source_colour("learned", 0)
                self.curves["validation_mae"] = self.plot(
                    turns, ys, pen=pg.mkPen(colour, width=3), symbol="o", symbolSize=7,
                    symbolBrush=colour, name="validation MAE (no held-out ERC)")
        self.getPlotItem().getAxis("bottom").setTicks(
            [[(float(t), str(int(t))) for t in turns]] if len(turns) else None)


class LearningDialog(QDialog):
    """Learn / Cancel, the newest turn's figures, the history plot and the Review next queue."""

    image_requested = Signal(int)
    learn_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learn from my labels — the flywheel")
        self.items: list = []
        self.cursor = -1
        self.folder = None  # the project the queue was read from
        self.learn_button = QPushButton("Learn from my labels")
        self.learn_button.setToolTip("Train on your tiers, corrected scores and seed decisions; "
                                     "a new run with a Learned column")
        self.learn_button.clicked.connect(self.learn_requested)
        self.next_button = QPushButton(f"Next to review ({NEXT_KEY})")
        self.next_button.clicked.connect(self.next_item)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.learn_button)
        top.addWidget(self.next_button)
        top.addStretch(1)

        self.plot = HistoryPlot()
        self.history = QTableWidget(0, 5)
        self.history.setHorizontalHeaderLabels(("Turn", "Run", "Labels", "Val. MAE",
                                                "ERC-AUC learned / quality / SDD / CR"))
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.history.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.history.horizontalHeader().setStretchLastSection(True)
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.plot)
        upper.addWidget(self.history)
        upper.setStretchFactor(0, 3)
        upper.setStretchFactor(1, 2)

        self.queue_title = QLabel("<b>Review next</b>")
        self.queue = QTableWidget(0, len(QUEUE_COLUMNS))
        self.queue.setHorizontalHeaderLabels(QUEUE_COLUMNS)
        self.queue.verticalHeader().setVisible(False)
        self.queue.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.queue.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.queue.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.queue.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.queue.horizontalHeader().setStretchLastSection(True)
        self.queue.cellDoubleClicked.connect(lambda row, _c: self.open_row(row))
        self.queue.installEventFilter(self)
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.queue_title)
        ll.addWidget(self.queue, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        self.resize(1000, 700)

    # ----------------------------------------------------------------- filling
    def set_state(self, history: list[dict], items: list, paths, cluster_names,
                  labels: np.ndarray, reviewed: np.ndarray | None = None) -> None:
        """Show the learn turns `history` (oldest first) and the queue `items` (QueueItem)."""
        self.plot.set_history(history)
        self.history.setRowCount(len(history))
        for r, row in enumerate(history):
            auc = ((row.get("erc") or {}).get("auc") or {})
            values = (r + 1, f"#{row['run_id']}", f"{row.get('labels') or 0:,}",
                      _num(row.get("validation_mae"), 1),
                      " / ".join(_num(auc.get(n)) for n in HISTORY_SOURCES))
            for c, v in enumerate(values):
                self.history.setItem(r, c, QTableWidgetItem(str(v)))
        self.status.setText(turn_summary(history[-1]) if history else
                            "No learn turn yet: label some images (tiers, corrected scores, "
                            "seeds) in a few clusters, then press Learn from my labels.")
        self.items = list(items)
        self.cursor = -1
        self.queue.setRowCount(len(self.items))
        for r, it in enumerate(self.items):
            done = bool(reviewed[it.image_id]) if reviewed is not None else False
            values = (r + 1, paths[it.image_id], cluster_names[int(labels[it.image_id])],
                      f"{it.learned:.1f}", f"{it.label:.1f}", f"{it.disagreement:+.1f}",
                      f"{it.uncertainty:.1f}", "yes" if done else "")
            for c, v in enumerate(values):
                item = QTableWidgetItem(str(v))
                if c in (0, 3, 4, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.queue.setItem(r, c, item)
        self.queue.resizeColumnsToContents()
        self.queue.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.queue_title.setText(
            f"<b>Review next</b> — {len(self.items)} images where the learned score and the "
            "current label disagree most or the model is least sure (at most 3 per cluster). "
            "Return shows one; label it with the usual keys; "
            f"{NEXT_KEY} goes to the next." if self.items else
            "<b>Review next</b> — empty (no learn turn yet, or every candidate is labelled).")
        self.next_button.setEnabled(bool(self.items))

    def apply_theme(self, dark: bool) -> None:
        style_plot(self.plot, dark)

    # ----------------------------------------------------------------- moving
    def open_row(self, row: int) -> bool:
        if not 0 <= row < len(self.items):
            return False
        self.cursor = row
        self.queue.selectRow(row)
        self.image_requested.emit(int(self.items[row].image_id))
        return True

    def next_item(self) -> bool:
        """The next queue entry after the last one shown (the first one at the start)."""
        return self.open_row(self.cursor + 1)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.queue and event.type() == QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return self.open_row(self.queue.currentRow())
        if obj is self.parent() and event.type() == QEvent.Type.Close:
            self.close()
        return False


# --------------------------------------------------------------------- window hooks
def refresh_learning(window) -> LearningDialog | None:
    """Re-read the history and the queue into the dialog (when it exists)."""
    dialog = getattr(window, "learning_dialog", None)
    rv = window.review
    if dialog is None or rv is None:
        return dialog
    from fiqa_gui.core.learning.evidence import is_curated
    from fiqa_gui.core.learning.review_next import learning_history, review_queue

    project = rv.project
    history = learning_history(project)
    items = review_queue(project) if history else []
    reviewed = is_curated(project, rv.n_images)
    dialog.set_state(history, items, rv.dataset.paths, rv.summaries.names, rv.labels,
                     reviewed)
    dialog.folder = rv.folder  # the queue's image ids belong to this project
    return dialog


def show_learning(window) -> LearningDialog | None:
    """Open (or raise) the flywheel dialog on the window's project."""
    rv = window.review
    if rv is None:
        window.jobs.show_message("Learn from my labels", "Open a project first.")
        return None
    if rv.scores is None:
        window.jobs.show_message("Learn from my labels", "The project has no scores yet: "
                                 "score it first (Scoring → Score now).")
        return None
    dialog = getattr(window, "learning_dialog", None)
    if dialog is None:
        dialog = LearningDialog(window)
        dialog.image_requested.connect(window.go_to_image)
        dialog.learn_requested.connect(lambda: learn_now(window))
        window.learning_dialog = dialog
        window.installEventFilter(dialog)  # the window closing closes it
    dialog.apply_theme(getattr(window, "dark", False))
    refresh_learning(window)
    dialog.show()
    dialog.raise_()
    return dialog


def learn_now(window, seed: int = 0) -> bool:
    """Train on the curator's labels in the background (progress and Cancel in the status bar),
    then show the new learn run ranked by `learned` and the refreshed queue."""
    rv = window.review
    if rv is None or rv.scores is None:
        return False
    if not window.controller.can_edit:
        window.status.showMessage(window.controller.why_not(), 4000)
        return False
    project = rv.project
    base = rv.run.id if rv.run is not None and rv.run.kind != "learn" else \
        rv.run.params.get("base_run") if rv.run is not None else None

    def stored(result) -> None:
        def opened(_review) -> None:
            window.gallery.set_rank("learned")
            show_learning(window)

        window.open_project(project, run_id=result.run_id, on_open=opened)

    job = window.jobs.run("Learning from your labels", learn_job(project, base, seed), stored)
    return job is not None


def next_to_review(window) -> bool:
    """Ctrl+J: the next image of the Review next queue (opening the dialog if needed)."""
    dialog = getattr(window, "learning_dialog", None)
    rv = window.review
    if dialog is None or not dialog.isVisible() or rv is None or dialog.folder != rv.folder:
        dialog = show_learning(window)  # (re)read for the project now open
        if dialog is None:
            return False
    return dialog.next_item()
