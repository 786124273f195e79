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
    """Non-modal window showing one image as large as the screen allows (never upscaled >4×)."""

    def __init__(self, path: str, caption: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(path)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry().size() if screen is not None else QSize(1200, 900)
        box = QSize(int(avail.width() * 0.8), int(avail.height() * 0.75))
        pix = read_scaled(path, box)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if pix.isNull():
            self.image.setText(f"Cannot decode {html.escape(path)}")
        else:
            if pix.width() * 4 < box.width() and pix.height() * 4 < box.height():
                box = QSize(pix.width() * 4, pix.height() * 4)
            self.image.setPixmap(pix.scaled(pix.size().scaled(box,
                                            Qt.AspectRatioMode.KeepAspectRatio),
                                            Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation)
                                 if pix.width() < box.width() and pix.height() < box.height()
                                 else pix)
        self.caption = QLabel(caption)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)
