"""Dialog for a new project: the data (image folder or manifest), embeddings, where to put it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)


def _path_row(edit: QLineEdit, browse) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    b = QPushButton("Browse…")
    b.clicked.connect(browse)
    row.addWidget(b)
    return w


class NewProjectDialog(QDialog):
    """Collects `load_data` arguments and the project folder; validation happens in the job."""

    def __init__(self, kind: str, parent=None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setWindowTitle("New project from an image folder" if kind == "images"
                            else "New project from a CSV manifest")
        self.source = QLineEdit()
        self.embeddings = QLineEdit()
        self.embeddings.setPlaceholderText(".npy or .npz, one row per image (needed to score)")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a new or empty folder")
        self.check_images = QCheckBox("Check that every image decodes (slower, finds bad files)")
        self.check_images.setChecked(True)
        form = QFormLayout(self)
        form.addRow(QLabel("ROOT/&lt;cluster&gt;/&lt;image&gt;" if kind == "images" else
                           "CSV with <b>path</b> and <b>cluster</b> columns; other columns "
                           "become attributes"))
        form.addRow("Images folder:" if kind == "images" else "Manifest:",
                    _path_row(self.source, self._browse_source))
        form.addRow("Embeddings:", _path_row(self.embeddings, self._browse_embeddings))
        form.addRow("Project folder:", _path_row(self.folder, self._browse_folder))
        form.addRow(self.check_images)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.error = QLabel()
        self.error.setStyleSheet("color: #d7301f")
        form.addRow(self.error)
        form.addRow(buttons)
        self.resize(640, self.sizeHint().height())

    def _browse_source(self) -> None:
        if self.kind == "images":
            p = QFileDialog.getExistingDirectory(self, "Images folder")
        else:
            p, _ = QFileDialog.getOpenFileName(self, "Manifest", "", "CSV (*.csv);;All (*)")
        if p:
            self.source.setText(p)
            if not self.folder.text():
                base = Path(p) if self.kind == "images" else Path(p).parent
                self.folder.setText(str(base.parent / f"{base.name}-project"))

    def _browse_embeddings(self) -> None:
        p, _ = QFileDialog.getOpenFileName(self, "Embeddings", "",
                                           "Embeddings (*.npy *.npz);;All (*)")
        if p:
            self.embeddings.setText(p)

    def _browse_folder(self) -> None:
        p = QFileDialog.getExistingDirectory(self, "Project folder")
        if p:
            self.folder.setText(p)

    def _accept(self) -> None:
        if not self.source.text().strip():
            self.error.setText("Choose the images folder." if self.kind == "images"
                               else "Choose the manifest.")
            return
        if not self.folder.text().strip():
            self.error.setText("Choose where to create the project.")
            return
        self.accept()

    def values(self) -> dict:
        """Keyword arguments for `load_data` plus `project` (the folder)."""
        src = self.source.text().strip()
        emb = self.embeddings.text().strip() or None
        check = self.check_images.isChecked()
        return {"images": src if self.kind == "images" else None,
                "manifest": src if self.kind == "manifest" else None,
                "embeddings": emb, "check_images": True, "decode_images": check,
                "project": self.folder.text().strip()}
