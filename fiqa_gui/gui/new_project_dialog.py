"""Dialog for a new project: the data (image folder or manifest), where its embeddings come
from (a file, dlib, or the user's TorchScript/ONNX model run on the photos), where to put it.

Computing embeddings runs as the window's background job (`job()`), with progress and Cancel in
the status bar; a cancelled run resumes where it stopped when the same project is created again.
"""

from __future__ import annotations

from pathlib import Path

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
    QPushButton,
    QSpinBox,
    QWidget,
)

from fiqa_gui.core.errors import UserInputError

SOURCE_FILE, SOURCE_DLIB, SOURCE_MODEL = "file", "dlib", "model"
SOURCES = ((SOURCE_FILE, "an embeddings file (.npy / .npz)"),
           (SOURCE_DLIB, "compute with dlib's face model (built in, 128-d)"),
           (SOURCE_MODEL, "compute with my model (TorchScript .pt or ONNX .onnx)"))


def _path_row(edit: QLineEdit, browse) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    b = QPushButton("Browse…")
    b.clicked.connect(browse)
    row.addWidget(b)
    return w


def _dlib_installed() -> bool:
    from fiqa_gui.core.ingest.embed.extras import dlib_available

    return dlib_available()


def create_from_photos(values: dict):
    """The job `(progress, cancel) -> folder` that embeds the photos and creates the project."""

    def run(progress, cancel):
        from fiqa_gui.core.photo_project import create_project_from_photos

        summary = create_project_from_photos(values["project"], images=values.get("images"),
                                             manifest=values.get("manifest"),
                                             options=values["photo_options"],
                                             progress=progress, cancel=cancel)
        return summary.folder

    return run


class NewProjectDialog(QDialog):
    """Collects the data, the embeddings' source and the project folder; the job validates."""

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
        self.embeddings_from = QComboBox()
        for key, text in SOURCES:
            self.embeddings_from.addItem(text, key)
        self.dlib_ok = _dlib_installed()
        if not self.dlib_ok:
            item = self.embeddings_from.model().item(1)
            item.setEnabled(False)
            item.setToolTip("dlib is not installed: pip install 'fiqa-gui[dlib]'")
        form = QFormLayout(self)
        form.addRow(QLabel("ROOT/&lt;cluster&gt;/&lt;image&gt;" if kind == "images" else
                           "CSV with <b>path</b> and <b>cluster</b> columns; other columns "
                           "become attributes"))
        form.addRow("Images folder:" if kind == "images" else "Manifest:",
                    _path_row(self.source, self._browse_source))
        form.addRow("Embeddings from:", self.embeddings_from)
        self.embeddings_row = _path_row(self.embeddings, self._browse_embeddings)
        form.addRow("Embeddings:", self.embeddings_row)
        self.model_box = self._model_box()
        form.addRow(self.model_box)
        form.addRow("Project folder:", _path_row(self.folder, self._browse_folder))
        form.addRow(self.check_images)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d7301f")
        form.addRow(self.error)
        form.addRow(buttons)
        self.embeddings_from.currentIndexChanged.connect(self._source_changed)
        self._source_changed()
        self.resize(680, self.sizeHint().height())

    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Face model")
        f = QFormLayout(box)
        self.model_file = QLineEdit()
        self.model_file.setPlaceholderText("TorchScript (.pt) or ONNX (.onnx) file")
        self.model_file_row = _path_row(self.model_file, self._browse_model)
        f.addRow("Model file:", self.model_file_row)
        self.align = QCheckBox("Detect and align faces (ArcFace 5-point); off: the images are "
                               "already aligned crops")
        f.addRow(self.align)
        self.input_size = QSpinBox()
        self.input_size.setRange(8, 1024)
        self.input_size.setValue(112)
        self.input_size.setSuffix(" px")
        self.channels = QComboBox()
        self.channels.addItems(["rgb", "bgr"])
        self.mean = QLineEdit("0.5")
        self.std = QLineEdit("0.5")
        for e in (self.mean, self.std):
            e.setToolTip("one value or three (per channel), on the x/255 scale; values above 1 "
                         "are read as 0–255 units")
        self.flip = QComboBox()
        self.flip.addItems(["none", "sum", "concat"])
        self.flip.setToolTip("also embed the mirrored crop, and add or concatenate the two")
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        for label, w in (("Input", self.input_size), ("Channels", self.channels),
                         ("Mean", self.mean), ("Std", self.std), ("Flip", self.flip)):
            h.addWidget(QLabel(label))
            h.addWidget(w)
        self.preprocessing_row = row
        f.addRow(row)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setValue(32)
        self.center = QCheckBox("Mean-centre the embeddings (helps when every cosine is high, "
                                "as with dlib)")
        row2 = QWidget()
        h2 = QHBoxLayout(row2)
        h2.setContentsMargins(0, 0, 0, 0)
        h2.addWidget(QLabel("Device"))
        h2.addWidget(self.device)
        h2.addWidget(QLabel("Batch"))
        h2.addWidget(self.batch)
        h2.addStretch(1)
        f.addRow(row2)
        f.addRow(self.center)
        return box

    def choice(self) -> str:
        return self.embeddings_from.currentData()

    def set_choice(self, key: str) -> None:
        self.embeddings_from.setCurrentIndex(self.embeddings_from.findData(key))

    def _source_changed(self) -> None:
        choice = self.choice()
        self.embeddings_row.setEnabled(choice == SOURCE_FILE)
        self.check_images.setVisible(choice == SOURCE_FILE)  # crops are checked as written
        self.model_box.setVisible(choice != SOURCE_FILE)
        user = choice == SOURCE_MODEL
        for w in (self.model_file_row, self.align, self.preprocessing_row, self.device,
                  self.batch):
            w.setEnabled(user)
        self.error.setText("")
        self.adjustSize()

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

    def _browse_model(self) -> None:
        p, _ = QFileDialog.getOpenFileName(self, "Face model", "",
                                           "Face models (*.pt *.pth *.onnx);;All (*)")
        if p:
            self.model_file.setText(p)

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
        if self.choice() == SOURCE_MODEL and not self.model_file.text().strip():
            self.error.setText("Choose the model file (TorchScript .pt or ONNX .onnx).")
            return
        try:
            self.values()
        except UserInputError as err:
            self.error.setText(str(err))
            return
        self.accept()

    def photo_options(self):
        """The `PhotoOptions` for a computed source (raises `UserInputError` on bad fields)."""
        from fiqa_gui.core.ingest.embed.preprocessing import Preprocessing
        from fiqa_gui.core.photo_project import PhotoOptions

        def numbers(text: str, option: str) -> list[float]:
            try:
                return [float(t) for t in text.split(",") if t.strip()]
            except ValueError:
                raise UserInputError(f"{option} must be numbers separated by commas "
                                     f"(got {text!r})", fix="e.g. 0.5 or 0.485,0.456,0.406"
                                     ) from None

        if self.choice() == SOURCE_DLIB:
            return PhotoOptions(model="dlib", center=self.center.isChecked())
        pre = Preprocessing.make(input_size=self.input_size.value(),
                                 channels=self.channels.currentText(),
                                 mean=numbers(self.mean.text(), "Mean"),
                                 std=numbers(self.std.text(), "Std"),
                                 flip=self.flip.currentText(), align=self.align.isChecked())
        return PhotoOptions(model=self.model_file.text().strip(), preprocessing=pre,
                            device=self.device.currentText(), batch=self.batch.value(),
                            center=self.center.isChecked())

    def values(self) -> dict:
        """Keyword arguments for `load_data` plus `project` (the folder); with a computed
        source also `photo_options`."""
        src = self.source.text().strip()
        emb = self.embeddings.text().strip() or None
        check = self.check_images.isChecked()
        out = {"images": src if self.kind == "images" else None,
               "manifest": src if self.kind == "manifest" else None,
               "embeddings": emb, "check_images": True, "decode_images": check,
               "project": self.folder.text().strip()}
        if self.choice() != SOURCE_FILE:
            out["embeddings"] = None
            out["photo_options"] = self.photo_options()
        return out

    def job(self):
        """The background job that creates the project (and first embeds the photos)."""
        values = self.values()
        if "photo_options" in values:
            return create_from_photos(values)
        from fiqa_gui.gui import project_jobs

        return project_jobs.create_project(values)
