"""Load torch's native library with the GIL released, before `import torch` needs it.

Python's import machinery (and `ctypes.CDLL`) call the C loader with the GIL held, so the
200–300 ms that libtorch_cpu's static initialisers take (thousands of operator registrations)
freeze every other thread — the window's among them — whichever thread imports torch. A foreign
call through ctypes releases the GIL, so `dlopen` called that way runs those initialisers while
the window keeps painting; the later `import torch` finds the library loaded (the loader reuses
it by name) and holds the GIL only for its Python bindings (~50 ms).

The library is opened with local symbol scope, as torch opens it itself, so its symbols bind
nothing else loaded later (onnxruntime, faiss). Linux and macOS; elsewhere, or when torch or its
library is missing, nothing happens and `import torch` works as before.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from pathlib import Path

_LIBRARY = {"linux": "libtorch_cpu.so", "darwin": "libtorch_cpu.dylib"}
_lock = threading.Lock()
_tried = False


def torch_library() -> Path | None:
    """Where torch's main native library lies, found without importing torch."""
    name = next((v for k, v in _LIBRARY.items() if sys.platform.startswith(k)), None)
    if name is None:
        return None
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "lib" / name
    return path if path.is_file() else None


def preload_torch() -> bool:
    """`dlopen` torch's native library through a GIL-releasing foreign call, once per process.
    True when this call loaded it; False when torch is already imported, was preloaded before,
    or cannot be found (then `import torch` simply does the work)."""
    global _tried
    with _lock:
        if _tried or "torch" in sys.modules:
            return False
        _tried = True
    path = torch_library()
    if path is None:
        return False
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return False
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    handle = dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL)  # the GIL is free here
    return bool(handle)
