"""The seed panel: the current cluster's seed set — its strata (tier x sub-cluster x attributes;
available / quota / picked), the sampling quotas and attribute columns, and the buttons of the
approval workflow — plus a one-line progress summary over the dataset.

The panel only draws and asks; `seed_actions.SeedActions` turns its buttons into core commands
(`fiqa_gui.core.curation.seeds`) through the window's undo stack.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.seedsets.sampling import DEFAULT_QUOTAS, TIERS

# "Cluster tier": the third of the image's own cluster (the `tier` column of seeds.csv), not
# the window's dataset band (thirds of the whole dataset)
STRATA_COLUMNS = ("Cluster tier", "Sub-cluster", "Attributes", "Available", "Quota", "Picked")


class SeedPanel(QWidget):
    """Strata table, quotas, attribute choice and the seed-set buttons for one cluster."""

    propose_requested = Signal(bool)  # True: every cluster
    approve_requested = Signal()
    reject_requested = Signal()
    swap_requested = Signal()
    add_requested = Signal()
    approve_set_requested = Signal()
    dashboard_requested = Signal()
    params_changed = Signal()  # a quota or the attribute choice changed

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel("No cluster")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.progress = QLabel("")
        self.progress.setToolTip("Progress over the whole dataset (Dashboard… for details)")

        # ------------------------------------------------------------- sampling parameters
        self.quota_spins: dict[str, QSpinBox] = {}
        params = QGridLayout()
        params.addWidget(QLabel("<b>Quotas</b> per tier"), 0, 0, 1, 3)
        for col, tier in enumerate(TIERS):
            spin = QSpinBox()
            spin.setRange(0, 99)
            spin.setValue(DEFAULT_QUOTAS[tier])
            spin.setPrefix(f"{tier} ")
            spin.setToolTip(f"How many seeds to propose from the {tier}-quality tier of each "
                            "stratum")
            self.quota_spins[tier] = spin
            spin.valueChanged.connect(lambda *_: self.params_changed.emit())
            params.addWidget(spin, 1, col)
        params.addWidget(QLabel("<b>Stratify by</b> attribute"), 2, 0, 1, 3)
        self.attribute_list = QListWidget()
        self.attribute_list.setToolTip("Attribute columns of the manifest that split each tier "
                                       "into strata (each value is sampled separately)")
        self.attribute_list.setMaximumHeight(70)
        self.attribute_list.itemChanged.connect(lambda *_: self.params_changed.emit())
        params.addWidget(self.attribute_list, 3, 0, 1, 3)

        # ------------------------------------------------------------- buttons
        self.propose_button = QPushButton("Propose")
        self.propose_button.setToolTip("Sample a stratified, diverse seed proposal for this "
                                       "cluster (replaces its undecided proposal)")
        self.propose_all_button = QPushButton("Propose all clusters")
        self.propose_all_button.setToolTip("Sample proposals for every cluster in the "
                                           "background (one undo step)")
        self.approve_button = QPushButton("Approve selected")
        self.approve_button.setToolTip("Approve the selected images as seeds (A)")
        self.reject_button = QPushButton("Reject selected")
        self.reject_button.setToolTip("Reject the selected proposed seeds (R); rejected images "
                                      "are not proposed again")
        self.swap_button = QPushButton("Swap")
        self.swap_button.setToolTip("Replace the current seed by the best other image of its "
                                    "stratum (the current one is rejected)")
        self.add_button = QPushButton("Add selected")
        self.add_button.setToolTip("Add the selected images by hand as approved seeds")
        self.approve_set_button = QPushButton("Approve seed set")
        self.approve_set_button.setToolTip("Approve this cluster's seed set (asks what to do "
                                           "with undecided proposals)")
        self.approve_set_button.setStyleSheet("QPushButton { font-weight: bold; }")
        self.dashboard_button = QPushButton("Dashboard…")
        self.dashboard_button.setToolTip("Seed-set progress over the whole dataset")
        self.edit_buttons = (self.propose_button, self.propose_all_button, self.approve_button,
                             self.reject_button, self.swap_button, self.add_button,
                             self.approve_set_button)
        # one row of buttons above the strata table keeps the dock short, so the inspector's
        # histograms keep their room
        buttons = QHBoxLayout()
        for b in (self.propose_button, self.propose_all_button, self.approve_button,
                  self.reject_button, self.swap_button, self.add_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.approve_set_button)

        self.propose_button.clicked.connect(lambda: self.propose_requested.emit(False))
        self.propose_all_button.clicked.connect(lambda: self.propose_requested.emit(True))
        self.approve_button.clicked.connect(self.approve_requested)
        self.reject_button.clicked.connect(self.reject_requested)
        self.swap_button.clicked.connect(self.swap_requested)
        self.add_button.clicked.connect(self.add_requested)
        self.approve_set_button.clicked.connect(self.approve_set_requested)
        self.dashboard_button.clicked.connect(self.dashboard_requested)

        # ------------------------------------------------------------- strata table
        self.strata_note = QLabel("")
        self.strata_note.setWordWrap(True)
        self.table = QTableWidget(0, len(STRATA_COLUMNS))
        self.table.setHorizontalHeaderLabels(STRATA_COLUMNS)
        self.table.horizontalHeaderItem(0).setToolTip(
            "The image's third within its own cluster (the tier column of seeds.csv) — not "
            "the dataset band the gallery chips show")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setTabKeyNavigation(False)  # Tab goes to the next panel
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # attribute values
        self.table.verticalHeader().setDefaultSectionSize(22)

        left = QVBoxLayout()
        left.addWidget(self.title)
        left.addLayout(params)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addLayout(buttons)
        right.addWidget(self.strata_note)
        right.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.dashboard_button)
        right.addLayout(bottom)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        row.addLayout(left, 0)
        row.addLayout(right, 1)

    # ----------------------------------------------------------------- inputs
    def quotas(self) -> dict[str, int]:
        return {t: int(s.value()) for t, s in self.quota_spins.items()}

    def set_quotas(self, quotas: dict) -> None:
        for t, s in self.quota_spins.items():
            if t in quotas:
                s.setValue(int(quotas[t]))

    def set_attributes(self, names: list[str], checked=()) -> None:
        self.attribute_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in checked
                               else Qt.CheckState.Unchecked)
            self.attribute_list.addItem(item)
        self.attribute_list.setEnabled(bool(names))
        if not names:
            self.attribute_list.addItem("(the project has no attribute columns)")

    def attributes(self) -> tuple[str, ...]:
        out = []
        for k in range(self.attribute_list.count()):
            item = self.attribute_list.item(k)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable and \
                    item.checkState() == Qt.CheckState.Checked:
                out.append(item.text())
        return tuple(out)

    def set_attribute_checked(self, name: str, on: bool = True) -> None:
        for k in range(self.attribute_list.count()):
            item = self.attribute_list.item(k)
            if item.text() == name:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # ----------------------------------------------------------------- showing
    def set_editable(self, editable: bool) -> None:
        for b in self.edit_buttons:
            b.setEnabled(editable)

    def show_strata(self, rows: list, note: str, *, clustered: bool = False,
                    stored: bool = False) -> None:
        """rows: [tier, subcluster, attributes, available, quota, picked] per stratum.
        `clustered`: the project has a sub-clustering; `stored`: these are the strata of a
        stored proposal (which may predate the clustering)."""
        if rows and all(r[1] is None for r in rows):
            if not clustered:
                note += " · no sub-clusters (run a clustering to split each tier by look)"
            elif stored:
                note += (" · proposed before the clustering: Propose again to split each "
                         "tier by sub-cluster")
            else:
                note += " · one sub-cluster at the sampling level"
        self.strata_note.setText(note)
        self.table.setRowCount(len(rows))
        for r, (tier, sub, attrs, available, quota, picked) in enumerate(rows):
            values = (tier, "—" if sub is None else str(sub), " · ".join(attrs) or "—",
                      available, quota, picked)
            for c, v in enumerate(values):
                item = QTableWidgetItem(str(v))
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if c == 5 and int(picked) < min(int(quota), int(available)):
                    item.setToolTip("fewer picks than the quota allows")
                elif c == 5 and int(picked) < int(quota):
                    item.setToolTip("the stratum has fewer eligible images than the quota")
                self.table.setItem(r, c, item)
            if int(picked) < int(quota):
                for c in range(len(values)):
                    self.table.item(r, c).setForeground(Qt.GlobalColor.darkYellow)
