"""The sub-clusters panel: run the multi-threshold clustering (`core.clustering.cluster_command`,
within each identity cluster) as a background job, pick a level, and group the gallery by the
sub-clusters of that level (a coloured stripe and a 'gN' chip on each tile).

A clustering run is stored like a scoring run (not a curator action, so not on the undo stack);
the seed sampling's default strata ('auto' level) use the newest run.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.review.review_data import subcluster_labels
from fiqa_gui.core.seedsets.clustering import (
    DEFAULT_THRESHOLDS,
    latest_clustering_run,
    load_level,
    load_levels,
)


def parse_thresholds(text: str) -> tuple[float, ...]:
    """'0.7, 0.6 0.5' -> (0.7, 0.6, 0.5); a UserInputError naming the bad part."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise UserInputError("no thresholds given", fix="type cosines such as 0.7, 0.6, 0.5.")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise UserInputError(f"'{p}' is not a number",
                                 fix="type cosines such as 0.7, 0.6, 0.5.") from None
        if not -1.0 <= v <= 1.0:
            raise UserInputError(f"threshold {v:g} is not a cosine in [-1, 1]",
                                 fix="type cosines such as 0.7, 0.6, 0.5.")
        out.append(v)
    return tuple(out)


class ClusteringPanel(QWidget):
    """Thresholds, Run, the stored run, the level picker and the group toggle."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.thresholds = QLineEdit(", ".join(f"{t:g}" for t in DEFAULT_THRESHOLDS))
        self.thresholds.setToolTip("Cosine thresholds, tight to loose: each gives one level of "
                                   "nested sub-clusters inside every identity cluster")
        self.run_button = QPushButton("Run clustering")
        self.run_button.setToolTip("Cluster every identity cluster's images at these "
                                   "thresholds (background job; Cancel in the status bar)")
        self.run_info = QLabel("No clustering run yet.")
        self.run_info.setWordWrap(True)
        self.level_combo = QComboBox()
        self.level_combo.setToolTip("The level whose sub-clusters group the gallery")
        self.group_check = QCheckBox("Group the gallery by sub-cluster")
        self.group_check.setToolTip("Sort the gallery by sub-cluster, then by rank; each tile "
                                    "shows its group's colour and number (gN)")
        self.cluster_info = QLabel("")
        self.cluster_info.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Thresholds", self.thresholds)
        form.addRow("", self.run_button)
        form.addRow("Level", self.level_combo)
        box = QWidget()
        box.setMaximumWidth(560)
        inner = QVBoxLayout(box)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(form)
        inner.addWidget(self.group_check)
        inner.addWidget(self.cluster_info)
        inner.addWidget(self.run_info)
        inner.addStretch(1)
        lay = QHBoxLayout(self)
        lay.addWidget(box, 1)
        lay.addStretch(0)


class ClusteringActions(QObject):
    """Runs the clustering job and feeds the chosen level to the gallery."""

    def __init__(self, window, panel: ClusteringPanel) -> None:
        super().__init__(window)
        self.w = window
        self.panel = panel
        self.run_id: int | None = None
        panel.run_button.clicked.connect(self.run)
        panel.level_combo.currentIndexChanged.connect(lambda *_: self.apply_grouping())
        panel.group_check.toggled.connect(lambda *_: self.apply_grouping())

    @property
    def project(self):
        return self.w.review.project if self.w.review is not None else None

    def set_review(self, review) -> None:
        self.run_id = latest_clustering_run(review.project, within_clusters=True) \
            if review is not None else None
        self._fill_levels()

    def set_editable(self, editable: bool) -> None:
        self.panel.run_button.setEnabled(editable)

    def _fill_levels(self) -> None:
        p = self.panel
        p.level_combo.blockSignals(True)
        p.level_combo.clear()
        if self.run_id is None or self.project is None:
            p.run_info.setText("No clustering run yet: run one to see sub-clusters and to "
                               "stratify seed proposals by look.")
            p.level_combo.setEnabled(False)
            p.group_check.setEnabled(False)
        else:
            levels = load_levels(self.project, self.run_id)
            for level, threshold in levels:
                n = self.project.conn.execute(
                    "SELECT COUNT(DISTINCT label) FROM subclusters WHERE run_id = ? AND level = ?",
                    (self.run_id, level)).fetchone()[0]
                p.level_combo.addItem(f"{level} · cosine ≥ {threshold:g} · {n} sub-clusters",
                                      level)
            p.level_combo.setCurrentIndex(len(levels) // 2)  # the seed sampling's 'auto'
            p.level_combo.setEnabled(True)
            p.group_check.setEnabled(True)
            p.run_info.setText(f"Clustering run #{self.run_id}: {len(levels)} levels. "
                               "Seed proposals use its middle level as sub-cluster strata.")
        p.level_combo.blockSignals(False)
        self.apply_grouping()

    def level(self) -> int | None:
        data = self.panel.level_combo.currentData()
        return None if data is None else int(data)

    def apply_grouping(self) -> None:
        level = self.level()
        if self.run_id is None or level is None or not self.panel.group_check.isChecked():
            self.w.gallery.set_subclusters(None)
        else:
            self.w.gallery.set_subclusters(load_level(self.project, self.run_id, level))
        self.describe_cluster()

    def describe_cluster(self) -> None:
        """'In id_01: 4 sub-clusters at this level (sizes 20, 5, 3, 2)'."""
        rv, c, level = self.w.review, self.w.gallery.cluster_id, self.level()
        if self.w.jobs.busy:
            return  # a job uses the project's connection
        if rv is None or c < 0 or self.run_id is None or level is None:
            self.panel.cluster_info.setText("")
            return
        labels = subcluster_labels(self.project, self.run_id, level, rv.index.members(c))
        sizes = sorted(np.unique(labels, return_counts=True)[1].tolist(), reverse=True)
        shown = ", ".join(map(str, sizes[:12])) + (", …" if len(sizes) > 12 else "")
        self.panel.cluster_info.setText(
            f"In <b>{rv.summaries.names[c]}</b>: {len(sizes)} sub-cluster(s) at this level "
            f"(sizes {shown}).")

    def run(self) -> bool:
        """Cluster the project in the background; then show the new run, grouped."""
        if self.project is None:
            return False
        ctl = self.w.controller
        if not ctl.can_edit:
            self.w.status.showMessage(ctl.why_not(), 4000)
            return False
        try:
            thresholds = parse_thresholds(self.panel.thresholds.text())
        except UserInputError as err:
            self.w.jobs.show_message("Cannot run the clustering", str(err))
            return False
        project = self.project

        def work(progress, cancel):
            from fiqa_gui.core.seedsets.clustering import cluster_command

            return cluster_command(project, thresholds, within_clusters=True,
                                   progress=progress, cancel=cancel).run_id

        def done(run_id) -> None:
            if self.project is not project:
                return
            self.run_id = run_id
            self.panel.group_check.setChecked(True)
            self._fill_levels()
            self.w.seeds.refresh()

        return self.w.jobs.run("Clustering", work, done) is not None

