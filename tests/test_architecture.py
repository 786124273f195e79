"""The core never imports Qt: every number the GUI shows must be computable headless.

The import rules themselves (no Qt or GUI in the core, the core's stages layered) are
import-linter contracts in pyproject.toml, checked by `lint-imports` in `make test`. This test
checks what a contract cannot: that importing every core module, as Python really does it, loads
no Qt module by any route (a lazy import, a plugin, a dependency's own import).
"""

from __future__ import annotations

import subprocess
import sys

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "qtpy")


def test_importing_every_core_module_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, fiqa_gui.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'fiqa_gui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
