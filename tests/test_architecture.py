"""The core never imports Qt: every number the GUI shows must be computable headless."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[1] / "fiqa_gui" / "core"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "qtpy")


def test_no_qt_import_statement_in_core():
    offenders = []
    for f in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{f.name}: {n}" for n in names if n.split(".")[0] in QT_MODULES]
    assert not offenders, offenders


def test_importing_every_core_module_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, fiqa_gui.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'fiqa_gui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
