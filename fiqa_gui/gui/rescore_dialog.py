"""What re-scoring with approved seeds changed: per cluster with seeds, how well the new Quality
order agrees with the old one (Spearman), how the cluster's images moved (how many up, down,
unchanged, and the spread of the moves), the images that moved most, and the score-shift flags
resolved — raised before and gone after, never an image Quality already ranked well. Double-click
an image to show it in the gallery."""

from __future__ import annotations

import html
import math
from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

IMAGE_ROLE = Qt.ItemDataRole.UserRole + 1


def distribution_text(moves: dict) -> str:
    """'3↑ 2↓ 5=' and the spread of the rank changes of one cluster (min … max, quartiles)."""
    if not moves or "median" not in moves:
        return "–"
    return (f"{moves['up']}↑ {moves['down']}↓ {moves['same']}=  ·  "
            f"{moves['min']:+d} [{moves['q1']:+.0f} {moves['median']:+.0f} "
            f"{moves['q3']:+.0f}] {moves['max']:+d}")


def _move_text(change: int) -> str:
    if change > 0:
        return f"↑ {change}"
    if change < 0:
        return f"↓ {-change}"
    return "="


class RescoreDialog(QDialog):
    """Non-modal summary of a `RescoreSummary`; `paths[i]` names image i."""

    image_requested = Signal(int)

    def __init__(self, summary, paths, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Re-scored with approved seeds — run #{summary.run_id}")
        self.summary = summary
        n_seeds = sum(len(c["seeds"]) for c in summary.clusters)
        rhos = [c["spearman"] for c in summary.clusters if not math.isnan(c["spearman"])]
        head = (f"<b>Run #{summary.run_id}</b> recomputed Quality against <b>{n_seeds}</b> "
                f"approved seed image(s) in <b>{len(summary.clusters)}</b> cluster(s), "
                f"starting from run #{summary.base_run_id}. The window now shows the new run "
                "(switch back with the Run selector above the gallery).")
        if rhos:
            head += (f"<br>Spearman between the old and the new Quality order: median "
                     f"<b>{sorted(rhos)[len(rhos) // 2]:.2f}</b> (1.00 = the same order; lower"
                     " = the seeds changed the ranking more).")
        fine = getattr(summary, "already_fine", [])
        still = getattr(summary, "still_shifted", [])
        head += (f"<br>Score-shift flags resolved: <b>{len(summary.resolved_score_shift)}</b> "
                 "image(s) the old Quality ranked in the lower half of their cluster now rank in "
                 f"the upper half; <b>{len(still)}</b> still in the lower half")
        if fine:
            head += (f"; {len(fine)} flagged image(s) were not counted, the old Quality "
                     "already ranked them in the upper half")
        head += "."
        self.header = QLabel(head)
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Cluster / image", "Seeds", "Spearman old→new", "Rank move",
                                   "Moves: up/down/same · min [Q1 median Q3] max"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        for c in summary.clusters:
            rho = c["spearman"]
            top = QTreeWidgetItem([c["cluster"], str(len(c["seeds"])),
                                   "–" if math.isnan(rho) else f"{rho:.2f}", "",
                                   distribution_text(c.get("moves", {}))])
            top.setToolTip(0, "Seed images: " + ", ".join(f"#{i}" for i in c["seeds"]))
            for m in c["top_moves"]:
                i = int(m["image_id"])
                child = QTreeWidgetItem([f"#{i} {PurePath(paths[i]).name}", "", "",
                                         _move_text(int(m["rank_change"])), ""])
                child.setData(0, IMAGE_ROLE, i)
                child.setToolTip(0, html.escape(str(paths[i])))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        if summary.resolved_score_shift:
            resolved = QTreeWidgetItem(["Score shift resolved", "", "",
                                        str(len(summary.resolved_score_shift)), ""])
            for i in summary.resolved_score_shift:
                child = QTreeWidgetItem([f"#{i} {PurePath(paths[i]).name}", "", "", "", ""])
                child.setData(0, IMAGE_ROLE, int(i))
                resolved.addChild(child)
            self.tree.addTopLevelItem(resolved)
        hh = self.tree.header()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3, 4):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.tree, 1)
        hint = QLabel("<small>Rank move: places an image moved up (↑) or down (↓) in its "
                      "cluster from the old Quality to the new one; per cluster, how many images "
                      "moved each way and the smallest, quartile and largest moves (+ = up). "
                      "Double-click an image to show it.</small>")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(760, 520)

    def _on_double_click(self, item, _column) -> None:
        i = item.data(0, IMAGE_ROLE)
        if i is not None:
            self.image_requested.emit(int(i))
