"""The undo history of the session as a list: done actions in normal text, undone ones greyed;
double-click an entry to undo or redo up to it (step by step, each one saved)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from fiqa_gui.gui.curation_controller import CurationController

START = "— the project as opened —"


class HistoryPanel(QListWidget):
    """Kept in step with the controller's `QUndoStack` (rebuilt only while visible)."""

    def __init__(self, controller: CurationController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setToolTip("Double-click an action to go back (or forward) to just after it")
        # long action texts are elided, never a reason for the window to grow
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(120, 50)
        controller.stack.indexChanged.connect(self._changed)
        self.itemDoubleClicked.connect(lambda item: controller.set_index(self.row(item)))

    def _changed(self, _index: int) -> None:
        if self.isVisible():
            self.rebuild()

    def showEvent(self, event) -> None:
        self.rebuild()
        super().showEvent(event)

    def rebuild(self) -> None:
        stack = self.controller.stack
        index = stack.index()
        grey = QBrush(self.palette().color(QPalette.ColorGroup.Disabled,
                                           QPalette.ColorRole.Text))
        self.clear()
        self.addItem(START)
        for i in range(stack.count()):
            item = QListWidgetItem(stack.text(i))
            if i >= index:
                item.setForeground(grey)
            self.addItem(item)
        self.setCurrentRow(index)
        self.scrollToItem(self.currentItem())
