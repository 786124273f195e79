"""Give freed heap memory back to the operating system after a large stage.

glibc keeps freed blocks in its arenas for reuse; after a stage that built and dropped hundreds
of megabytes of temporaries the process's resident (anonymous) memory stays at the stage's peak
although nothing holds it. `release_freed` asks glibc to return it (`malloc_trim(0)`); on other
C libraries (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

_trim = None
_looked_up = False


def _malloc_trim():
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _trim = getattr(libc, "malloc_trim", None)
        except OSError:
            _trim = None
        if _trim is not None:
            _trim.argtypes = [ctypes.c_size_t]
            _trim.restype = ctypes.c_int
    return _trim


def release_freed(collect: bool = False) -> bool:
    """Return freed heap memory to the OS (glibc); True when it was asked. `collect` runs the
    garbage collector first (reference cycles hold memory until it runs)."""
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
