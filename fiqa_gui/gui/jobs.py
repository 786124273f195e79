"""Run core functions off the GUI thread: progress through signals, Cancel through a
`CancelToken`, errors as dialogs with the message (never a traceback).

`JobRunner` runs one long job at a time (open, score, create a project) — the shape of Orange3's
ConcurrentWidgetMixin. `LatestOnly` runs short computations (the similarity picture of the
selected image) where only the newest request matters.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from fiqa_gui.core.errors import Cancelled, UserInputError
from fiqa_gui.core.progress import CancelToken
from fiqa_gui.gui.gc_pause import gc_paused

PROGRESS_INTERVAL_S = 0.05  # forward at most 20 progress updates a second

_quiet_lock = threading.Lock()


def quiet_import(*names: str) -> None:
    """Import heavy modules (torch, scipy: ~150 k long-lived objects) with the cyclic garbage
    collector paused, then freeze what they created, so no collection ever walks them: a full
    collection over them would hold the GIL — and stall the GUI thread — for ~100 ms. torch's
    native library is loaded first with the GIL released (`native_preload`). Safe to call from
    any thread, and cheap once the modules are loaded."""
    import importlib
    import sys

    if all(n in sys.modules for n in names):
        return
    from fiqa_gui.gui.native_preload import preload_torch

    with _quiet_lock:
        preload_torch()
        with gc_paused():  # then frozen: O(1), everything alive to the permanent generation
            for name in names:
                importlib.import_module(name)


def write_crash_log(exc: BaseException) -> str:
    """Write the traceback of `exc` to a temporary log file and return its path."""
    with tempfile.NamedTemporaryFile("w", prefix="fiqa-gui-crash-", suffix=".log",
                                     delete=False) as log:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=log)
    return log.name


def error_text(exc: BaseException, what: str) -> str:
    """What a curator reads when `what` failed: the message of a user error, or a one-line
    internal error naming the log file that holds the traceback."""
    if isinstance(exc, UserInputError):
        return str(exc)
    if isinstance(exc, ImportError):
        return (f"{what} needs a part of FIQA Curator that is not installed ({exc}). "
                "Reinstall the package.")
    return (f"Internal error while {what.lower()}: {exc!r}. The details were written to "
            f"{write_crash_log(exc)}; please report it with that file.")


@dataclass
class Job:
    """A running job: its title, cancel token, and the callbacks for its outcome."""

    id: int
    title: str
    fn: Callable
    on_done: Callable | None
    on_failed: Callable | None
    on_cancelled: Callable | None
    cancellable: bool
    token: CancelToken = field(default_factory=CancelToken)

    def cancel(self) -> None:
        self.token.cancel()


class _Bridge(QObject):
    """Lives on the GUI thread; workers emit here, Qt queues the call to the GUI thread."""

    event = Signal(int, str, object)
    progress = Signal(int, int, int, str)


class JobRunner(QObject):
    """One long job at a time, with progress, cancel, and error dialogs."""

    started = Signal(str, bool)  # title, cancellable
    progressed = Signal(int, int, str)  # done, total, stage
    finished = Signal(str, str)  # title, outcome: done / cancelled / failed

    def __init__(self, dialog_parent: QWidget | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.dialog_parent = dialog_parent
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._bridge = _Bridge()
        self._bridge.event.connect(self._on_event)
        self._bridge.progress.connect(self._on_progress)
        self._ids = itertools.count(1)
        self.job: Job | None = None
        self.last_message: tuple[str, str] | None = None  # (title, text) of the last dialog
        self.last_dialog: QMessageBox | None = None
        self.show_dialogs = True

    @property
    def busy(self) -> bool:
        return self.job is not None

    def run(self, title: str, fn: Callable[[Callable, CancelToken], object],
            on_done: Callable[[object], None] | None = None, *,
            on_failed: Callable[[BaseException], bool | None] | None = None,
            on_cancelled: Callable[[], None] | None = None,
            cancellable: bool = True) -> Job | None:
        """Start `fn(progress, cancel)` on the worker thread; None if a job is already running
        (the user is told which)."""
        if self.job is not None:
            self.show_message(f"{title}", f"Wait for “{self.job.title}” to finish, or cancel it.",
                              QMessageBox.Icon.Information)
            return None
        job = Job(next(self._ids), title, fn, on_done, on_failed, on_cancelled, cancellable)
        self.job = job
        self.started.emit(title, cancellable)
        self.pool.start(lambda: self._work(job))
        return job

    def _work(self, job: Job) -> None:  # worker thread
        last = [0.0, None]

        def progress(done: int, total: int, stage: str) -> None:
            now = time.monotonic()
            if stage == last[1] and now - last[0] < PROGRESS_INTERVAL_S and done < total:
                return
            last[0], last[1] = now, stage
            self._bridge.progress.emit(job.id, int(done), int(total), str(stage))

        try:
            job.token.check()
            result = job.fn(progress, job.token)
            job.token.check()
        except Cancelled:
            self._bridge.event.emit(job.id, "cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a dialog
            self._bridge.event.emit(job.id, "failed", exc)
        else:
            self._bridge.event.emit(job.id, "done", result)

    def _on_progress(self, job_id: int, done: int, total: int, stage: str) -> None:
        if self.job is not None and self.job.id == job_id and not self.job.token.cancelled:
            self.progressed.emit(done, total, stage)

    def _on_event(self, job_id: int, kind: str, payload: object) -> None:
        job = self.job
        if job is None or job.id != job_id:
            return
        self.job = None
        if kind == "done":
            self.finished.emit(job.title, "done")
            if job.on_done is not None:
                job.on_done(payload)
        elif kind == "cancelled":
            self.finished.emit(job.title, "cancelled")
            if job.on_cancelled is not None:
                job.on_cancelled()
        else:
            self.finished.emit(job.title, "failed")
            # on_failed returns True when it told the user itself (e.g. offered another way)
            if job.on_failed is not None and job.on_failed(payload):
                return
            self.show_message(f"{job.title} failed", error_text(payload, job.title))

    def cancel(self) -> None:
        if self.job is not None and self.job.cancellable:
            self.job.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker is idle (tests, shutdown). Queued results still need the
        event loop to be delivered."""
        return self.pool.waitForDone(msecs)

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.pool.waitForDone()
        self.job = None

    def show_message(self, title: str, text: str,
                     icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> None:
        """A non-blocking dialog (so tests and the event loop keep running)."""
        self.last_message = (title, text)
        if not self.show_dialogs:
            return
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.dialog_parent)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setModal(True)
        box.open()
        if self.last_dialog is not None:
            try:
                self.last_dialog.close()
            except RuntimeError:
                pass
        self.last_dialog = box


class LatestOnly(QObject):
    """Run short functions off the GUI thread where only the newest request's result counts."""

    _delivered = Signal(int, bool, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._latest = 0
        self._lock = threading.Lock()
        self._callbacks: dict[int, tuple[Callable, Callable | None]] = {}
        self._delivered.connect(self._deliver)

    def submit(self, fn: Callable[[], object], on_result: Callable[[object], None],
               on_error: Callable[[BaseException], None] | None = None) -> int:
        with self._lock:
            self._latest += 1
            ticket = self._latest
        self._callbacks = {ticket: (on_result, on_error)}
        self.pool.start(lambda: self._work(ticket, fn))
        return ticket

    def _work(self, ticket: int, fn: Callable) -> None:  # worker thread
        with self._lock:
            if ticket != self._latest:
                return  # superseded before it started
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - delivered to on_error
            self._delivered.emit(ticket, False, exc)
        else:
            self._delivered.emit(ticket, True, result)

    def _deliver(self, ticket: int, ok: bool, payload: object) -> None:
        if ticket != self._latest or ticket not in self._callbacks:
            return
        on_result, on_error = self._callbacks.pop(ticket)
        if ok:
            on_result(payload)
        elif on_error is not None:
            on_error(payload)

    def forget(self) -> None:
        """Drop whatever is pending: its result will not be delivered."""
        with self._lock:
            self._latest += 1
        self._callbacks = {}

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)
