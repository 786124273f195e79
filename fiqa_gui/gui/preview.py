"""A large preview of one image (gallery double-click or Space), with its path and scores."""

from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QImageReader, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout


def read_scaled(path: str, box: QSize) -> QPixmap:
    """Decode `path` no larger than `box` (JPEG decodes at reduced size directly)."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > box.width() or size.height() > box.height()):
        reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    img = reader.read()
    return QPixmap.fromImage(img) if not img.isNull() else QPixmap()


class PreviewDialog(QDialog):
    """Non-modal window showing one image as large as the screen allows (never upscaled >4×),
    with its marks (tier, seed, wrong identity, flags). It follows the gallery: J/K and the
    curation keys work here too (the window adds its actions), and `show_image` replaces the
    picture when the gallery's current image changes."""

    def __init__(self, path: str, caption: str, parent=None, marks: str = "") -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry().size() if screen is not None else QSize(1200, 900)
        self.box = QSize(int(avail.width() * 0.8), int(avail.height() * 0.75))
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.marks = QLabel()
        self.marks.setTextFormat(Qt.TextFormat.RichText)
        self.marks.setWordWrap(True)
        self.caption = QLabel()
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setWordWrap(True)
        hint = QLabel("<small>J / K: next / previous image · 1–4, 0, A, R, W: label it · "
                      "Esc closes</small>")
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.marks)
        layout.addWidget(self.caption)
        layout.addWidget(hint)
        self.path = ""
        self.show_image(path, caption, marks)

    def show_image(self, path: str, caption: str, marks: str = "") -> None:
        self.path = path
        self.setWindowTitle(path)
        box = QSize(self.box)
        pix = read_scaled(path, box)
        if pix.isNull():
            self.image.setPixmap(QPixmap())
            self.image.setText(f"Cannot decode {html.escape(path)}")
        else:
            if pix.width() * 4 < box.width() and pix.height() * 4 < box.height():
                box = QSize(pix.width() * 4, pix.height() * 4)
            if pix.width() < box.width() and pix.height() < box.height():
                pix = pix.scaled(pix.size().scaled(box, Qt.AspectRatioMode.KeepAspectRatio),
                                 Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
            self.image.setPixmap(pix)
        self.set_marks(marks)
        self.caption.setText(caption)

    def set_marks(self, marks: str) -> None:
        self.marks.setText(marks)
        self.marks.setVisible(bool(marks))
