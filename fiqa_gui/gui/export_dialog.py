"""File → Export…: the approved seed set (CSV, JSON Lines, ImageFolder tree), the corrected
quality labels of the whole dataset and the audit log, into one destination folder
(`core.export.export_command`, run as a background job with progress and cancel).

Existing outputs are replaced only after the curator confirms (then, and only then,
`force=True`); a refused destination or any other user error is shown as a dialog with the
core's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from fiqa_gui.core.export.export_record import record_export
from fiqa_gui.core.export.project_export import LINK_MODES

DEFAULT_OUTPUTS = ("csv_path", "jsonl_path", "labels", "audit")
INCLUDE_CHOICES = (("approved", "Approved seeds"),
                   ("proposed", "Approved and undecided seeds"),
                   ("all", "Every seed decision (also rejected)"))


@dataclass(frozen=True)
class Output:
    key: str        # export_command's argument
    title: str
    name: str       # file or folder name in the destination
    tip: str


OUTPUTS = (
    Output("csv_path", "Seed set as CSV", "seeds.csv",
           "path, cluster, every score, tier, corrected label, seed state, attributes, runs"),
    Output("jsonl_path", "Seed set as JSON Lines", "seeds.jsonl",
           "the same fields as the CSV, one JSON object per line"),
    Output("tree", "Seed images as an ImageFolder tree", "seed_images",
           "<folder>/<cluster>/<image>, by copy, hard link or symbolic link"),
    Output("labels", "Corrected quality labels (whole dataset)", "quality_labels.txt",
           "path<TAB>label, the text file SDD-FIQA's training code reads"),
    Output("audit", "Audit log as CSV", "audit_log.csv", "every saved curator action"),
)


class ExportDialog(QDialog):
    """Choose outputs and a folder; `start()` checks, asks before replacing, and runs the job."""

    exported = Signal(object)  # list[ExportReport]

    def __init__(self, window, default_folder: str | Path = "") -> None:
        super().__init__(window)
        self.w = window
        self.setWindowTitle("Export")
        self.reports = None
        self.recorded = False
        self.folder = QLineEdit(str(default_folder))
        self.folder.setPlaceholderText("the folder the outputs are written into")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)

        box = QGroupBox("Outputs")
        form = QFormLayout(box)
        self.checks: dict[str, QCheckBox] = {}
        self.names: dict[str, QLineEdit] = {}
        self.link = QComboBox()
        for mode in LINK_MODES:
            self.link.addItem(mode, mode)
        self.link.setToolTip("copy: independent files; hardlink: no extra space, same disk; "
                             "symlink: links to the originals")
        for out in OUTPUTS:
            check = QCheckBox(out.title)
            check.setToolTip(out.tip)
            # the labels and the audit trail are what a training run and a reviewer need
            check.setChecked(out.key in DEFAULT_OUTPUTS)
            name = QLineEdit(out.name)
            name.setToolTip("name inside the destination folder")
            check.toggled.connect(name.setEnabled)
            name.setEnabled(check.isChecked())
            self.checks[out.key], self.names[out.key] = check, name
            form.addRow(check, name)
            if out.key == "tree":
                form.addRow("      made by", self.link)
                check.toggled.connect(self.link.setEnabled)
                self.link.setEnabled(check.isChecked())
        self.include = QComboBox()
        for key, title in INCLUDE_CHOICES:
            self.include.addItem(title, key)
        self.only_sets = QCheckBox("Only clusters whose seed set is approved")
        form.addRow("Seeds to export", self.include)
        form.addRow("", self.only_sets)

        self.note = QLabel("Nothing is written until every destination has been checked; "
                           "existing outputs are replaced only after you confirm.")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.start)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Destination folder</b>"))
        lay.addLayout(row)
        lay.addWidget(box)
        lay.addWidget(self.note)
        lay.addWidget(buttons)
        self.resize(560, 420)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into the folder",
                                                  self.folder.text())
        if folder:
            self.folder.setText(folder)

    # ----------------------------------------------------------------- values
    def set_output(self, key: str, on: bool = True) -> None:
        self.checks[key].setChecked(on)

    def destinations(self) -> dict[str, Path]:
        """export_command argument -> path, for the checked outputs."""
        root = Path(self.folder.text().strip()).expanduser()
        return {k: root / self.names[k].text().strip() for k, c in self.checks.items()
                if c.isChecked()}

    def confirm_overwrite(self, existing: list[Path]) -> bool:
        """Ask before replacing outputs that exist (True: replace them)."""
        listing = "\n".join(f"  {p}" for p in existing[:8])
        more = f"\n  … and {len(existing) - 8} more" if len(existing) > 8 else ""
        answer = QMessageBox.question(
            self, "Replace existing outputs?",
            f"These outputs exist already:\n{listing}{more}\n\nReplace them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # ----------------------------------------------------------------- running
    def start(self) -> bool:
        """Check the choices, ask before replacing, and run the export as a job."""
        rv = self.w.review
        if rv is None:
            return False
        if not self.folder.text().strip():
            self.w.jobs.show_message("Export", "Choose a destination folder first.")
            return False
        dests = self.destinations()
        if not dests:
            self.w.jobs.show_message("Export", "Choose at least one output.")
            return False
        if any(not p.name for p in dests.values()):
            self.w.jobs.show_message("Export", "Give every chosen output a name.")
            return False
        existing = [p for p in dests.values() if p.exists() or p.is_symlink()]
        force = False
        if existing:
            if not self.confirm_overwrite(existing):
                self.w.status.showMessage("Export cancelled: nothing was replaced.", 4000)
                return False
            force = True
        project = rv.project
        args = dict(dests, link=self.link.currentData(), include=self.include.currentData(),
                    only_approved_sets=self.only_sets.isChecked(), force=force)

        def work(progress, cancel):
            from fiqa_gui.core.export.project_export import export_command

            return export_command(project, progress=progress, cancel=cancel, **args)

        choices = {"include": args["include"], "only_approved_sets": args["only_approved_sets"],
                   "run_id": rv.run.id if rv.run is not None else None}

        def done(reports) -> None:
            self.reports = reports
            self.recorded = record_export(project, reports, **choices)
            lines = [f"{r.kind}: {r.rows:,} rows → {r.path}"
                     + (f" ({r.skipped} skipped)" if r.skipped else "") for r in reports]
            self.w.status.showMessage(f"Exported {len(reports)} output(s) to "
                                      f"{self.folder.text().strip()}", 8000)
            trail = ("The export is recorded in the project's audit log."
                     if self.recorded else "The project is read-only: the export is not "
                     "recorded in its audit log.")
            self.w.jobs.show_message("Export finished", "Written:\n" + "\n".join(lines)
                                     + "\n\n" + trail, QMessageBox.Icon.Information)
            self.exported.emit(reports)
            self.accept()

        return self.w.jobs.run("Exporting", work, done) is not None
