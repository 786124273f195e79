"""Scoring → Evaluate labels…: error-versus-reject curves of the project's label sources.

The window answers "are my curated labels better than SDD's?" on the curator's own data: one
curve per source (FNMR at a fixed FMR as the lowest-quality pairs are rejected), the AUC table
with bootstrap intervals and the pair counts. The computation is the core's
(`core.evaluation.evaluate.evaluate_project`, the same call `fiqa-gui erc` makes), run on the
panel's own job runner — progress and Cancel in the panel, the window's jobs undisturbed — over
a read-only connection of its own. "Save files…" writes the CLI's three files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.evaluation.erc_plot import source_colour
from fiqa_gui.gui.jobs import JobRunner
from fiqa_gui.gui.theme import style_plot

SOURCE_CHOICES = (("learned", "Learned"), ("quality", "Quality"), ("curated", "Curated"),
                  ("sdd", "SDD"), ("cr", "CR"), ("iq", "Image quality"), ("random", "Random"))
ALWAYS_AVAILABLE = ("curated", "random")  # computed from any run
DEFAULT_SOURCES = ("quality", "curated", "sdd", "cr", "random")
DEFAULT_BOOTSTRAP = 50
DASHES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine,
          Qt.PenStyle.DashDotLine)
TABLE_COLUMNS = ("Source", "FMR", "AUC", "95% interval", "Threshold", "FNMR at 0",
                 "FNMR at 0.95")


def evaluate_job(folder: str | Path, columns: list[str], options: dict):
    """`(progress, cancel) -> ErcResult` over a read-only connection of the project."""

    def run(progress, cancel):
        from fiqa_gui.core.evaluation.evaluate import evaluate_project
        from fiqa_gui.core.store import Project

        with Project.open(folder, read_only=True) as project:
            return evaluate_project(project, columns, progress=progress, cancel=cancel,
                                    **options)

    return run


def _fmrs(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.replace(";", ",").split(",") if t.strip())
    except ValueError:
        raise UserInputError(f"the FMR {text!r} is not a list of numbers",
                             fix="e.g. 1e-3, or 1e-2, 1e-3.") from None
    if not values:
        raise UserInputError("no FMR given", fix="e.g. 1e-3.")
    return values


class ErcPanel(QWidget):
    """Sources, FMR, threshold variant and bootstrap; Evaluate / Cancel; curves and table."""

    evaluated = Signal(object)  # ErcResult

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.run_id: int | None = None
        self.result = None
        self.outcome = ""  # done / cancelled / failed, of the last run
        self.jobs = JobRunner(self, self)
        self.jobs.progressed.connect(self._on_progress)
        self.jobs.finished.connect(self._on_finished)

        self.checks: dict[str, QCheckBox] = {}
        sources = QHBoxLayout()
        sources.addWidget(QLabel("Sources:"))
        for key, title in SOURCE_CHOICES:
            box = QCheckBox(title)
            box.setChecked(key in DEFAULT_SOURCES)
            r, g, b = source_colour(key)
            box.setStyleSheet(f"QCheckBox {{ color: rgb({r}, {g}, {b}); font-weight: bold; }}")
            self.checks[key] = box
            sources.addWidget(box)
        sources.addStretch(1)

        self.fmr = QLineEdit("1e-3")
        self.fmr.setMaximumWidth(110)
        self.fmr.setToolTip("False-match rates, comma-separated (e.g. 1e-2, 1e-3); the "
                            "threshold is set on the impostor pairs at each")
        self.variant = QComboBox()
        self.variant.addItem("fixed once", "fixed")
        self.variant.addItem("re-derived at every fraction", "rederived")
        self.variant.setToolTip("fixed: the standard ERC; re-derived: what the CR-FIQA scripts "
                                "do")
        self.bootstrap = QSpinBox()
        self.bootstrap.setRange(0, 100000)
        self.bootstrap.setValue(DEFAULT_BOOTSTRAP)
        self.bootstrap.setToolTip("Identity bootstrap replicates for the 95% intervals "
                                  "(0: none)")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.save_button = QPushButton("Save files…")
        self.save_button.setToolTip("curves.csv, auc.json and erc.png, as 'fiqa-gui erc' writes")
        self.save_button.clicked.connect(self.save_dialog)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.stage = QLabel()
        options = QHBoxLayout()
        for label, widget in (("FMR:", self.fmr), ("Threshold:", self.variant),
                              ("Bootstrap:", self.bootstrap)):
            options.addWidget(QLabel(label))
            options.addWidget(widget)
        options.addWidget(self.evaluate_button)
        options.addWidget(self.cancel_button)
        options.addWidget(self.progress, 1)
        options.addWidget(self.save_button)

        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "fraction of pairs rejected (lowest quality first)")
        self.plot.setLabel("left", "FNMR")
        for name in ("left", "bottom"):
            item.getAxis(name).enableAutoSIPrefix(False)
        self.legend = item.addLegend(offset=(-10, 10))
        self.curve_items: dict[tuple[str, float], pg.PlotDataItem] = {}
        self.band_items: list = []

        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel("Choose the sources and press Evaluate.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.summary)
        ll.addWidget(self.table, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        lay = QVBoxLayout(self)
        lay.addLayout(sources)
        lay.addLayout(options)
        lay.addWidget(self.stage)
        lay.addWidget(split, 1)
        self._set_running(False)

    # ----------------------------------------------------------------- state
    def set_project(self, folder: str | Path | None, run_id: int | None,
                    columns=None) -> None:
        """The project and run to evaluate; `columns` (the run's score names) enables only the
        sources the run holds — `learned` is checked whenever the run is a learn turn."""
        self.folder = None if folder is None else Path(folder)
        self.run_id = run_id
        if columns is None:
            return
        for key, box in self.checks.items():
            ok = key in ALWAYS_AVAILABLE or key in columns
            box.setEnabled(ok)
            if not ok:
                box.setChecked(False)
                box.setToolTip(f"run #{run_id} has no {key} column")
            else:
                box.setToolTip("")
                if key == "learned":
                    box.setChecked(True)

    def apply_theme(self, dark: bool) -> None:
        style_plot(self.plot, dark)

    def selected_sources(self) -> list[str]:
        return [k for k, box in self.checks.items() if box.isChecked()]

    def _set_running(self, running: bool) -> None:
        self.evaluate_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.result is not None)
        self.progress.setVisible(running)
        if not running:
            self.progress.reset()

    # ----------------------------------------------------------------- running
    def start(self) -> bool:
        """Evaluate the chosen sources in the background; False if nothing was started."""
        if self.folder is None:
            self.jobs.show_message("Evaluate labels", "Open a project first.")
            return False
        sources = self.selected_sources()
        if not sources:
            self.jobs.show_message("Evaluate labels", "Choose at least one label source.")
            return False
        try:
            fmrs = _fmrs(self.fmr.text())
        except UserInputError as err:
            self.jobs.show_message("Evaluate labels", str(err))
            return False
        options = {"run_id": self.run_id, "fmrs": fmrs, "variant": self.variant.currentData(),
                   "bootstrap": self.bootstrap.value(), "seed": 0}
        self.options = options
        job = self.jobs.run("Evaluating labels", evaluate_job(self.folder, sources, options),
                            self.show_result)
        if job is None:
            return False
        self.outcome = ""
        self.stage.setText("Building pairs…")
        self._set_running(True)
        return True

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.stage.setText(f"{stage}: {done:,}/{total:,}")

    def _on_finished(self, _title: str, outcome: str) -> None:
        self.outcome = outcome
        self._set_running(False)
        if outcome == "cancelled":
            self.stage.setText("Cancelled: the curves shown are from the last finished run.")
        elif outcome == "failed":
            self.stage.setText("The evaluation failed (see the message).")

    def shutdown(self) -> None:
        self.jobs.shutdown()

    # ----------------------------------------------------------------- showing
    def show_result(self, result) -> None:
        """Draw the curves and fill the table from an `ErcResult`."""
        self.result = result
        self._draw(result)
        self._fill_table(result)
        s = result.sampling
        how = ("every pair" if s.get("method") == "all pairs" else
               f"a seeded sample (seed {s['seed']}): {s['genuine_used']:,} of "
               f"{s['genuine_total']:,} genuine, {s['impostor_used']:,} of "
               f"{s['impostor_total']:,} impostor pairs, each weighted by total/used")
        boot = (f"; 95% intervals from {result.bootstrap} identity bootstrap replicates"
                if result.bootstrap else "; no bootstrap (intervals need Bootstrap > 0)")
        run = result.info.get("run_id")
        self.summary.setText(
            f"<b>{result.genuine_pairs:,}</b> genuine and <b>{result.impostor_pairs:,}</b> "
            f"impostor pairs of {result.info.get('images', 0):,} images ({how}); threshold "
            f"{result.variant}{boot}. Scores of run #{run}; lower AUC is better. "
            f"Computed in {result.info.get('seconds', 0):.1f} s.")
        self.stage.setText("Done.")
        self._set_running(False)
        self.evaluated.emit(result)

    def _draw(self, result) -> None:
        for it in [*self.curve_items.values(), *self.band_items]:
            self.plot.removeItem(it)
        self.legend.clear()
        self.curve_items.clear()
        self.band_items.clear()
        x = np.asarray(result.reject_fractions, dtype=float)
        fmrs = result.fmrs
        for c in result.curves:
            colour = QColor(*source_colour(c.source, result.sources.index(c.source)))
            style = DASHES[fmrs.index(c.fmr) % len(DASHES)]
            name = c.source if len(fmrs) == 1 else f"{c.source} @ {c.fmr:g}"
            item = self.plot.plot(x, c.fnmr, pen=pg.mkPen(colour, width=2.5, style=style),
                                  symbol="o", symbolSize=5, symbolBrush=colour,
                                  symbolPen=None, name=f"{name}  (AUC {c.auc:.4f})",
                                  connect="finite")
            self.curve_items[(c.source, c.fmr)] = item
            if c.fnmr_low is not None and fmrs.index(c.fmr) == 0:
                lo = pg.PlotDataItem(x, np.nan_to_num(c.fnmr_low, nan=0.0), pen=None)
                hi = pg.PlotDataItem(x, np.nan_to_num(c.fnmr_high, nan=0.0), pen=None)
                band = QColor(colour)
                band.setAlpha(40)
                fill = pg.FillBetweenItem(lo, hi, brush=band)
                fill.setZValue(-5)
                self.plot.addItem(fill)
                self.band_items += [fill]
        self.plot.setXRange(0, float(x[-1]), padding=0.02)
        self.plot.enableAutoRange(axis="y")

    def _fill_table(self, result) -> None:
        self.table.setRowCount(len(result.curves))
        for row, c in enumerate(result.curves):
            interval = (f"[{c.auc_interval[0]:.4f}, {c.auc_interval[1]:.4f}]"
                        if c.auc_interval else "—")
            cells = (c.source, f"{c.fmr:g}", _num(c.auc), interval, _num(c.threshold),
                     _num(c.fnmr[0]), _num(c.fnmr[-1]))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setForeground(QColor(*source_colour(c.source,
                                                             result.sources.index(c.source))))
                if col >= 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)

    # ----------------------------------------------------------------- saving
    def save_dialog(self) -> Path | None:
        if self.result is None:
            return None
        start = str(self.folder.parent if self.folder else Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Save the ERC files into a new folder "
                                                  "inside", start)
        if not folder:
            return None
        return self.save(Path(folder) / "erc")

    def save(self, out: str | Path, *, force: bool = False) -> Path | None:
        """Write curves.csv, auc.json and erc.png into the folder `out` (the CLI's files)."""
        from fiqa_gui.core.evaluation.erc_files import write_erc_outputs
        from fiqa_gui.core.store import Project

        try:
            with Project.open(self.folder, read_only=True) as project:
                protected = list(project.protected_paths())
            paths = write_erc_outputs(self.result, out, force=force, protected=protected)
        except UserInputError as err:
            self.jobs.show_message("Save files", str(err))
            return None
        self.stage.setText(f"Saved {', '.join(p.name for p in paths)} in {paths[0].parent}.")
        return paths[0].parent


def _num(v: float) -> str:
    return "—" if v is None or not math.isfinite(float(v)) else f"{float(v):.4f}"


class ErcDialog(QDialog):
    """The non-modal "Evaluate labels" window around an `ErcPanel`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evaluate labels — error-versus-reject")
        self.panel = ErcPanel(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.panel)
        self.resize(1100, 760)

    def done(self, code: int) -> None:
        self.panel.shutdown()
        super().done(code)

    def closeEvent(self, event) -> None:
        self.panel.shutdown()
        super().closeEvent(event)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.parent() and event.type() == QEvent.Type.Close:
            self.close()
        return False


def show_erc_panel(window, *, start: bool = True) -> ErcDialog | None:
    """Open (or raise) the window's "Evaluate labels" dialog on its project and, with `start`,
    evaluate the default sources at once."""
    rv = window.review
    if rv is None:
        window.jobs.show_message("Evaluate labels", "Open a project first.")
        return None
    if rv.scores is None:
        window.jobs.show_message("Evaluate labels", "The project has no scores yet: score it "
                                 "first (Scoring → Score now).")
        return None
    dialog = getattr(window, "erc_dialog", None)
    if dialog is None:
        dialog = ErcDialog(window)
        dialog.panel.jobs.show_dialogs = window.jobs.show_dialogs
        window.erc_dialog = dialog
        window.installEventFilter(dialog)  # the window closing closes it (and its job)
    dialog.panel.set_project(rv.folder, rv.run.id if rv.run is not None else None,
                             columns=list(rv.scores))
    dialog.panel.apply_theme(getattr(window, "dark", False))
    dialog.show()
    dialog.raise_()
    if start and not dialog.panel.jobs.busy:
        dialog.panel.start()
    return dialog


def add_erc_action(window) -> None:
    """Scoring → Evaluate labels… (the one hook the main window calls)."""
    action = window.menus["Scoring"].addAction("&Evaluate labels…")
    action.setStatusTip("Error-versus-reject curves: which label source best predicts "
                        "recognition failures on this data")
    action.triggered.connect(lambda: show_erc_panel(window))
    window.erc_action = action
