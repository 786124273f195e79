"""Seed-set progress over the dataset (`seeds.progress_dashboard`): a one-line summary for the
seed panel and a dialog with the per-tier coverage and, once the project has learn runs, the
flywheel's history (held-out ERC-AUC per learn turn, `learning_panel.HistoryPlot`)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from fiqa_gui.core.curation.seeds import NO_TIER, Dashboard
from fiqa_gui.gui.learning_panel import HistoryPlot

TIER_LABELS = {"high": "high", "mid": "mid", "low": "low", "unusable": "unusable",
               NO_TIER: "no tier"}


def dashboard_line(d: Dashboard) -> str:
    """'Seed sets approved 2/6 (33 %) · seeds: 7 undecided, 12 approved, 3 rejected'."""
    return (f"Dataset: seed sets approved {d.sets_approved}/{d.clusters} "
            f"({100 * d.fraction_approved:.0f} %) · {d.sets_open} open · seeds: "
            f"{d.images_proposed} undecided, {d.images_approved} approved, "
            f"{d.images_rejected} rejected")


class DashboardDialog(QDialog):
    """Progress of the seed sets: approved sets, seed images by state, per-tier coverage."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Seed-set progress")
        self.bar = QProgressBar()
        self.bar.setFormat("%v of %m seed sets approved (%p%)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(("Cluster tier", "Approved seeds",
                                              "Approved sets covering it"))
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.history_title = QLabel("<b>Learn turns</b> (Scoring → Learn from my labels)")
        self.history_plot = HistoryPlot()
        self.history_plot.setMinimumHeight(180)
        self.history_title.hide()
        self.history_plot.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.bar)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.history_title)
        lay.addWidget(self.history_plot, 1)
        lay.addWidget(buttons)
        self.resize(460, 320)
        self.dashboard: Dashboard | None = None

    def set_history(self, rows: list[dict]) -> None:
        """The learn turns, oldest first (`review_next.learning_history`); hidden when none."""
        self.history_plot.set_history(rows)
        for w in (self.history_title, self.history_plot):
            w.setVisible(bool(rows))
        if rows:
            self.resize(max(self.width(), 560), max(self.height(), 560))

    def set_dashboard(self, d: Dashboard) -> None:
        self.dashboard = d
        self.bar.setRange(0, max(d.clusters, 1))
        self.bar.setValue(d.sets_approved)
        self.summary.setText(
            f"{d.clusters} clusters: {d.sets_approved} seed sets approved, {d.sets_open} open, "
            f"{max(d.clusters - d.sets_approved - d.sets_open, 0)} not proposed.<br>"
            f"Seed images: {d.images_proposed} undecided, {d.images_approved} approved, "
            f"{d.images_rejected} rejected.")
        tiers = [t for t in d.approved_by_tier if t in TIER_LABELS]
        self.table.setRowCount(len(tiers))
        for r, t in enumerate(tiers):
            values = (TIER_LABELS[t], d.approved_by_tier.get(t, 0),
                      f"{d.sets_covering_tier.get(t, 0)} / {d.sets_approved}")
            for c, v in enumerate(values):
                item = QTableWidgetItem(str(v))
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
