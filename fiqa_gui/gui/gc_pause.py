"""Python's cyclic garbage collector paused while something big is built off the GUI thread.

Loading a 1 M-image project, or importing torch, creates millions of long-lived objects. With
the collector on, every few thousand of them start a collection, and the full ones walk all
that is alive: each holds the GIL — and so stalls the GUI thread — for up to half a second.
`gc_paused()` switches the collector off for the build and, when the last build running ends,
moves everything alive into the permanent generation (`gc.freeze()`, O(1)) so that no later
collection walks it, and switches the collector back on. Frozen objects are still freed when
their last reference goes; only the cycle search skips them.

Builds may overlap (the project loads on the job thread while torch is imported on another):
the collector stays off until the last of them ends, and comes back on only if it was on
before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = True
_freeze = False


@contextmanager
def gc_paused(freeze: bool = True) -> Iterator[None]:
    """No cyclic collection while the block runs (any thread, nestable); on leaving the last
    such block, what is alive is frozen (when any of them asked: `freeze`) and the collector
    is on again if it was."""
    global _depth, _was_enabled, _freeze
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            _freeze = False
            gc.disable()
        _depth += 1
        _freeze = _freeze or freeze
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _freeze:
                    gc.freeze()
                if _was_enabled:
                    gc.enable()


def paused() -> bool:
    """Whether some block of `gc_paused` is running now."""
    return _depth > 0
