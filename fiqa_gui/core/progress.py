"""Progress reporting and cancellation shared by the CLI (a stderr bar) and the GUI workers,
and the memory budget that bounds what concurrent decoding workers hold at once."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from fiqa_gui.core.errors import Cancelled


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int, stage: str) -> None: ...


def no_progress(done: int, total: int, stage: str) -> None:
    """The default callback: report nothing."""


class CancelToken:
    """Thread-safe flag a worker polls between chunks; `check()` raises `Cancelled` once set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class StderrProgressBar:
    """A progress callback drawing one updating line on stderr.

    On a terminal the line is redrawn in place (at most ~10 times a second); when stderr is a
    file or a pipe (CI logs) only each stage's completion is written, one line per stage.
    """

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._stage = None
        self._text = ""

    def __call__(self, done: int, total: int, stage: str) -> None:
        finished = total > 0 and done >= total
        if not self.tty:
            if finished and stage != self._stage:
                self.stream.write(f"{stage}: {done}/{total}\n")
                self.stream.flush()
                self._stage = stage
            elif not finished and stage != self._stage:
                self._stage = None
            return
        now = time.monotonic()
        if stage == self._stage and not finished and now - self._last < 0.1:
            return
        if stage != self._stage and self._stage is not None:
            self.stream.write("\n")
        frac = min(1.0, done / total) if total else 0.0
        filled = int(round(frac * self.width))
        text = f"\r{stage:<24} [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}"
        if text == self._text and not finished:
            return
        self._stage, self._last, self._text = stage, now, text
        self.stream.write(text)
        if finished:
            self.stream.write("\n")
            self._stage, self._text = None, ""
        self.stream.flush()


def chained(*callbacks: Callable[[int, int, str], None]) -> ProgressCallback:
    """Call several progress callbacks in turn."""

    def call(done: int, total: int, stage: str) -> None:
        for cb in callbacks:
            cb(done, total, stage)

    return call


class MemoryBudget:
    """Bound the bytes concurrent workers hold at once (e.g. decoded images).

    `with budget.reserve(n):` waits until `n` more bytes fit; a request larger than the whole
    budget waits until it can run alone, so one huge image never runs beside another.
    """

    def __init__(self, total_bytes: int) -> None:
        self.total = int(total_bytes)
        self._used = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, n_bytes: int) -> Iterator[None]:
        n = max(0, min(int(n_bytes), self.total))
        with self._cond:
            while self._used + n > self.total:
                self._cond.wait()
            self._used += n
        try:
            yield
        finally:
            with self._cond:
                self._used -= n
                self._cond.notify_all()


DECODE_BUDGET = MemoryBudget(512 << 20)
"""Shared by every image decoder (image checks, pixel cues): at most ~512 MB of decoded pixels
at once, whatever the number of worker threads."""


def decoded_bytes(width: int, height: int) -> int:
    """What decoding an image of this size may hold: 4 bytes a pixel, plus one mode conversion."""
    return int(width) * int(height) * 4 * 2
