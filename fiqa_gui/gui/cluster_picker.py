"""Pick a cluster by name — with completion over the project's cluster names — for moving images
(an unknown name creates a new cluster) or merging clusters (an existing one only)."""

from __future__ import annotations

import html

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)


class ClusterPickerDialog(QDialog):
    """`value()` is the typed or completed name once accepted."""

    def __init__(self, title: str, prompt: str, names: list[str], *, allow_new: bool,
                 exclude: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.names = [n for n in names if n != exclude]
        self._known = set(self.names)
        self.allow_new = allow_new
        self.exclude = exclude
        label = QLabel(prompt)
        label.setWordWrap(True)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("cluster name")
        completer = QCompleter(QStringListModel(self.names, self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.edit.setCompleter(completer)
        self.hint = QLabel()
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.edit)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._check("")
        self.resize(420, self.sizeHint().height())

    def value(self) -> str:
        return self.edit.text().strip()

    def _check(self, _text: str) -> None:
        name = self.value()
        ok = False
        if not name:
            hint = "Type a name; the list completes it."
        elif name == self.exclude:
            hint = "That is the cluster the images are in already."
        elif name in self._known:
            hint = f"→ existing cluster <b>{html.escape(name)}</b>"
            ok = True
        elif self.allow_new:
            hint = f"→ a <b>new</b> cluster <b>{html.escape(name)}</b> will be created"
            ok = True
        else:
            hint = "<span style='color:#d7301f'>No cluster of that name.</span>"
        self.hint.setText(hint)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def accept(self) -> None:
        if self.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled():
            super().accept()
