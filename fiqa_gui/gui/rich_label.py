"""The one kind of text label the window explains things in: rich text, wrapped, top-left."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def rich_label(text: str = "", *, selectable: bool = False) -> QLabel:
    """A wrapped rich-text label aligned to its top-left corner (selectable by mouse if asked:
    curators copy paths and figures out of explanations)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
