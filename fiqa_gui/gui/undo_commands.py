"""`QUndoCommand`s over the core's curation commands: redo applies, undo reverts, each one SQLite
transaction with its audit row (`fiqa_gui.core.curation.commands`).

The database write happens *before* the stack moves (`CurationController` applies or reverts
the core command first and only then pushes, undoes or redoes), so a write the disk refuses
leaves the stack exactly as it was. `redo()`/`undo()` here then only report the change; they
write themselves only when something else moves the stack (a history click), and a refusal
there is reported so the controller can resynchronise.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from fiqa_gui.core.curation.commands import Command, SaveError


class CurationUndoCommand(QUndoCommand):
    """One curator action (on any number of images or clusters) as one undo step."""

    def __init__(self, core: Command, project, on_change: Callable[[Command], None],
                 on_error: Callable[[SaveError], None]) -> None:
        super().__init__(core.text)
        self.core = core
        self.project = project
        self._on_change = on_change
        self._on_error = on_error

    def redo(self) -> None:
        if not self.core.applied:
            try:
                self.core.apply(self.project)
            except SaveError as err:
                self._on_error(err)
                return
        self._on_change(self.core)

    def undo(self) -> None:
        if self.core.applied:
            try:
                self.core.revert(self.project)
            except SaveError as err:
                self._on_error(err)
                return
        self._on_change(self.core)
