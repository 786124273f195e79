"""A visible answer to "where do my keys go?": a ring in the highlight colour around the
panel that has the keyboard focus (cluster list, centre view, inspector, seed set).

An overlay child of the window (mouse-transparent, drawing only its border) follows the
panel's geometry, so the panels keep their own look and no style sheet touches them."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

WIDTH = 2  # px of the ring


class FocusRing(QWidget):
    """Draws a ring around `panel` (None: nothing) and keeps it there as it moves."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.panel: QWidget | None = None
        self.hide()

    def follow(self, panel: QWidget | None) -> None:
        if panel is self.panel:
            self._place()
            return
        if self.panel is not None:
            self.panel.removeEventFilter(self)
        self.panel = panel
        if panel is not None:
            panel.installEventFilter(self)
        self._place()

    def _place(self) -> None:
        p = self.panel
        if p is None or not p.isVisible() or p.window() is not self.parentWidget():
            self.hide()
            return
        top_left = p.mapTo(self.parentWidget(), QPoint(0, 0))
        self.setGeometry(QRect(top_left, p.size()))
        self.raise_()
        self.show()
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.panel and event.type() in (
                QEvent.Type.Resize, QEvent.Type.Move, QEvent.Type.Show, QEvent.Type.Hide):
            self._place()
        return False

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        pen = QPen(self.palette().color(QPalette.ColorRole.Highlight), WIDTH)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        half = WIDTH // 2
        painter.drawRect(self.rect().adjusted(half, half, -half - 1 + WIDTH % 2,
                                              -half - 1 + WIDTH % 2))
        painter.end()
