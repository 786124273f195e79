"""The start screen: new project (image folder or manifest), open, recent projects, the demo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class StartScreen(QWidget):
    """Shown when no project is open."""

    new_requested = Signal(str)  # "images" or "manifest"
    open_requested = Signal(str)  # a folder, or "" to ask for one
    demo_requested = Signal()
    forget_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        title = QLabel("FIQA Curator")
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 2)
        f.setBold(True)
        title.setFont(f)
        subtitle = QLabel("Review and correct face-image quality labels (SDD-FIQA, CR-FIQA): "
                          "see which clusters are suspicious, and why each image got its score.")
        subtitle.setWordWrap(True)
        self.buttons = {}
        col = QVBoxLayout()
        for key, text, tip in (
                ("images", "New project from an image folder…",
                 "ROOT/<cluster>/<image> (the ImageFolder layout), plus an embeddings file"),
                ("manifest", "New project from a CSV manifest…",
                 "A CSV with path and cluster columns (others become attributes)"),
                ("open", "Open project…", "A folder holding project.sqlite"),
                ("demo", "Open the demo project",
                 "Synthetic faces with planted quality problems, generated on this machine")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setMinimumHeight(32)
            self.buttons[key] = b
            col.addWidget(b)
        col.addStretch(1)
        self.buttons["images"].clicked.connect(lambda: self.new_requested.emit("images"))
        self.buttons["manifest"].clicked.connect(lambda: self.new_requested.emit("manifest"))
        self.buttons["open"].clicked.connect(lambda: self.open_requested.emit(""))
        self.buttons["demo"].clicked.connect(self.demo_requested)

        self.recent = QListWidget()
        self.recent.setAlternatingRowColors(True)
        self.recent.itemActivated.connect(self._open_item)
        self.forget_button = QPushButton("Remove from list")
        self.forget_button.clicked.connect(self._forget_current)
        rcol = QVBoxLayout()
        rcol.addWidget(QLabel("<b>Recent projects</b> (double-click to open)"))
        rcol.addWidget(self.recent, 1)
        rcol.addWidget(self.forget_button, 0, Qt.AlignmentFlag.AlignRight)

        row = QHBoxLayout()
        row.addLayout(col, 1)
        row.addSpacing(24)
        row.addLayout(rcol, 2)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 36, 48, 36)
        outer.addWidget(title)
        outer.addWidget(subtitle)
        outer.addSpacing(18)
        outer.addLayout(row, 1)

    def set_recent(self, folders: list[str]) -> None:
        self.recent.clear()
        for folder in folders:
            exists = (Path(folder) / "project.sqlite").is_file()
            item = QListWidgetItem(folder if exists else f"{folder}   (missing)")
            item.setData(Qt.ItemDataRole.UserRole, folder)
            if not exists:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addItem(item)
        if not folders:
            item = QListWidgetItem("No recent projects yet: create one, open one, or try the "
                                   "demo.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
        self.forget_button.setEnabled(bool(folders))

    def set_busy(self, busy: bool) -> None:
        for b in self.buttons.values():
            b.setEnabled(not busy)
        self.recent.setEnabled(not busy)

    def _open_item(self, item: QListWidgetItem) -> None:
        folder = item.data(Qt.ItemDataRole.UserRole)
        if folder:
            self.open_requested.emit(folder)

    def _forget_current(self) -> None:
        item = self.recent.currentItem()
        if item is not None:
            self.forget_requested.emit(item.data(Qt.ItemDataRole.UserRole))
