"""An image that fills the room its layout gives it (aspect kept, never upscaled more than 4×):
the inspector's preview grows with the window instead of staying a fixed 180 px square."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QSizePolicy

MAX_UPSCALE = 4.0


class ScaledImage(QFrame):
    """Draws `pixmap` scaled to fit, centred; or a short text when there is none."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(96, 96)
        self._pixmap = QPixmap()
        self._text = ""
        self._scaled: QPixmap | None = None

    def setPixmap(self, pixmap: QPixmap) -> None:  # noqa: N802 - QLabel's name
        self._pixmap = QPixmap(pixmap)
        self._scaled = None
        if not self._pixmap.isNull():
            self._text = ""
        self.update()

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def setText(self, text: str) -> None:  # noqa: N802
        self._text = text
        self.update()

    def text(self) -> str:
        return self._text

    def sizeHint(self) -> QSize:
        return QSize(220, 220)

    def image_rect(self) -> QRect:
        """Where the image is drawn (empty without one)."""
        if self._pixmap.isNull():
            return QRect()
        box = self.contentsRect().adjusted(2, 2, -2, -2)
        size = self._pixmap.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        limit = self._pixmap.size() * MAX_UPSCALE
        if size.width() > limit.width():
            size = limit
        x = box.left() + (box.width() - size.width()) // 2
        y = box.top() + (box.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def resizeEvent(self, event) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        rect = self.image_rect()
        if rect.isValid():
            if self._scaled is None or self._scaled.size() != rect.size():
                self._scaled = self._pixmap.scaled(rect.size(),
                                                   Qt.AspectRatioMode.IgnoreAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(rect.topLeft(), self._scaled)
        elif self._text:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.contentsRect(), Qt.AlignmentFlag.AlignCenter, self._text)
        painter.end()
