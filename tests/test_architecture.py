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


def test_the_window_starts_without_importing_torch_or_scipy():
    """torch costs a second of import, scipy a fifth: the window's modules load without them
    (they come later, off the GUI thread: device detection, the first similarity picture), while
    the scoring package's names still resolve on first use."""
    code = (
        "import os, sys\n"
        "os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')\n"
        "import fiqa_gui.gui.app, fiqa_gui.gui.main_window\n"
        "import fiqa_gui.core.labels.diagnostics, fiqa_gui.core.export.score_table\n"
        "assert 'torch' not in sys.modules, 'torch imported at start-up'\n"
        "assert 'scipy' not in sys.modules, 'scipy imported at start-up'\n"
        "import fiqa_gui.core.scoring as s\n"
        "assert 'torch' not in sys.modules\n"
        "assert s.ScoringParams.__name__ == 'ScoringParams' and callable(s.sdd_scores)\n"
        "assert 'torch' in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
