"""Runs curator actions on the open project through one `QUndoStack`.

Every action is a core command (one SQLite transaction + audit row); this class applies it and
then pushes its `CurationUndoCommand`, so nothing reaches the stack that is not on disk. Undo and
redo write first and move the stack only when the write succeeded. A write the database refuses
(`SaveError`: disk full, read-only medium) becomes a dialog and leaves the stack as it was.
Panels never keep edits of their own: they refresh from the store on `changed`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from fiqa_gui.core.curation.commands import Command, SaveError
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.gui.undo_commands import CurationUndoCommand

UNDO_LIMIT = 1000
SAVE_FAILED = "The change was not saved"


class CurationController(QObject):
    """The window's undo history and the one way curator actions reach the store."""

    changed = Signal(object)  # the core Command just applied or reverted
    message = Signal(str)  # a short line for the status bar

    def __init__(self, show_error: Callable[[str, str], None], parent=None) -> None:
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(UNDO_LIMIT)
        self.project = None
        self.read_only = False
        self.busy = False  # a background job uses the project's connection
        self._show_error = show_error

    # ----------------------------------------------------------------- state
    def set_project(self, project, read_only: bool = False) -> None:
        """The project actions go to; another project starts a new history."""
        if project is not self.project:
            self.stack.clear()
        self.project = project
        self.read_only = bool(read_only)

    @property
    def can_edit(self) -> bool:
        return self.project is not None and not self.read_only and not self.busy

    def why_not(self) -> str:
        if self.project is None:
            return "No project is open."
        if self.read_only:
            return "The project is open read-only: nothing can be changed."
        if self.busy:
            return "Wait for the running job to finish."
        return ""

    # ----------------------------------------------------------------- actions
    def execute(self, build: Callable[[object], Command]) -> Command | None:
        """Build a core command for the project, apply it (one transaction) and push it as one
        undo step. Returns the command, or None when it was refused (the user is told why)."""
        if not self.can_edit:
            self.message.emit(self.why_not())
            return None
        try:
            cmd = build(self.project)
        except UserInputError as err:
            self._show_error("Cannot do that", str(err))
            return None
        if cmd is None:
            return None
        try:
            cmd.apply(self.project)
        except SaveError as err:
            self._show_error(SAVE_FAILED, str(err))
            return None
        self.stack.push(CurationUndoCommand(cmd, self.project, self._changed, self._failed))
        self.message.emit(cmd.text)
        return cmd

    def undo(self) -> bool:
        if not self.stack.canUndo():
            return False
        if not self.can_edit:
            self.message.emit(self.why_not())
            return False
        wrapper = self.stack.command(self.stack.index() - 1)
        try:
            wrapper.core.revert(self.project)
        except SaveError as err:
            self._show_error("The undo was not saved", str(err))
            return False
        self.stack.undo()
        self.message.emit(f"Undone: {wrapper.text()}")
        return True

    def redo(self) -> bool:
        if not self.stack.canRedo():
            return False
        if not self.can_edit:
            self.message.emit(self.why_not())
            return False
        wrapper = self.stack.command(self.stack.index())
        try:
            wrapper.core.apply(self.project)
        except SaveError as err:
            self._show_error("The redo was not saved", str(err))
            return False
        self.stack.redo()
        self.message.emit(f"Redone: {wrapper.text()}")
        return True

    def set_index(self, index: int) -> None:
        """Undo or redo step by step to `index` (the history list); stops at a refused write."""
        while self.stack.index() > index:
            if not self.undo():
                return
        while self.stack.index() < index:
            if not self.redo():
                return

    # ----------------------------------------------------------------- callbacks
    def _changed(self, cmd: Command) -> None:
        self.changed.emit(cmd)

    def _failed(self, err: SaveError) -> None:
        """A write refused while the stack moved by itself: every saved action stays saved,
        but the history no longer matches the store, so it is cleared."""
        self._show_error(SAVE_FAILED, str(err) + " The undo history was cleared; every saved "
                         "action is still in the project.")
        QTimer.singleShot(0, self.stack.clear)
