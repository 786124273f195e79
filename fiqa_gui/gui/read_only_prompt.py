"""The question asked when a project cannot be opened for writing — another FIQA Curator holds
it, or its folder cannot be written: look at it read-only, or cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from fiqa_gui.core.store.project import ProjectLocked


def read_only_question(err, folder) -> tuple[str, str]:
    """(title, text) of the question for the error `err` raised while opening `folder`."""
    title = ("The project is in use" if isinstance(err, ProjectLocked)
             else "The project cannot be written")
    what = getattr(err, "message", str(err))
    text = (f"{what[:1].upper()}{what[1:]}.\n{getattr(err, 'file', '') or folder}\n\n"
            "Open it read-only? You can look at everything, but no change can be made "
            "(tiers, seeds, notes, review states).")
    return title, text


class ReadOnlyPrompt(QMessageBox):
    """Non-modal: `accepted_read_only` is called when the curator picks 'Open read-only'."""

    def __init__(self, title: str, text: str, accepted_read_only, parent=None) -> None:
        super().__init__(QMessageBox.Icon.Question, title, text,
                         QMessageBox.StandardButton.Cancel, parent)
        self.read_only_button = self.addButton("Open read-only",
                                               QMessageBox.ButtonRole.AcceptRole)
        self.setDefaultButton(self.read_only_button)
        self.buttonClicked.connect(
            lambda button: accepted_read_only() if button is self.read_only_button else None)
