"""Benchmark: a tier key on 1,000 selected images, and Ctrl+Z, through the review window.

    .venv/bin/python benchmarks/bench_curation_gui.py [--images 100000] [--cluster 5000]
                                                      [--select 1000] [--repeats 21]

Builds a project of N embeddings-only images (no image files: the tiles show placeholders)
with one large cluster and a stored run of random scores, opens it in the window (offscreen),
selects `--select` random images of the large cluster in the gallery and measures, each from the
key press until the gallery has repainted:

- the tier key ('1'…'4'): the core command (one SQLite transaction, synchronous=FULL, with its
  audit row), the push onto the QUndoStack, re-reading the touched annotations, the gallery's
  dataChanged and the inspector's refresh;
- Ctrl+Z: the same in reverse.

The core's share (database write only) is measured too. Target (issue 5): each under 100 ms.
This is a benchmark, not a test: it prints figures and never fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def build(folder: Path, n: int, big: int) -> Path:
    import numpy as np

    from fiqa_gui.core.ingest.dataset import Dataset
    from fiqa_gui.core.ingest.loading import LoadedData
    from fiqa_gui.core.store import Project

    rng = np.random.default_rng(0)
    rest = n - big
    clusters = ["big"] * big + [f"id_{c:05d}" for c in rng.integers(0, max(1, rest // 20),
                                                                      rest)]
    ds = Dataset(root=folder / "images", paths=[f"img/{i}.jpg" for i in range(n)],
                 clusters=clusters, source="manifest")
    project_dir = folder / "project"
    with Project.create(project_dir, LoadedData(ds, None, None)) as p:
        cols = {k: rng.uniform(0, 100, n) for k in ("sdd", "quality", "iq")}
        cols["cr"] = rng.uniform(0, 1, n)
        flags = [["low_iq"] if rng.random() < 0.05 else [] for _ in range(n)]
        p.add_run("score", {"bench": True}, cols, flags, device="cpu")
    return project_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--cluster", type=int, default=5_000)
    ap.add_argument("--select", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=21)
    args = ap.parse_args()

    import numpy as np
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from fiqa_gui.core.curation import commands as cur
    from fiqa_gui.gui.app import _application

    app = _application(None)
    from fiqa_gui.gui.main_window import MainWindow
    from fiqa_gui.gui.settings import AppSettings

    core_ms: list[float] = []
    for name in ("apply", "revert"):  # the database's share, timed inside the command
        real = getattr(cur.Command, name)

        def timed(self, project, _real=real):
            t = time.perf_counter()
            _real(self, project)
            core_ms.append((time.perf_counter() - t) * 1e3)

        setattr(cur.Command, name, timed)

    with tempfile.TemporaryDirectory(prefix="fiqa-bench-curation-") as tmp:
        t0 = time.perf_counter()
        project = build(Path(tmp), args.images, args.cluster)
        print(f"built {args.images:,} images in {time.perf_counter() - t0:.1f} s",
              flush=True)
        w = MainWindow(AppSettings.at(Path(tmp) / "settings.ini"), detect_device=False)
        w.jobs.show_dialogs = False
        w.resize(1600, 1000)
        w.show()
        opened = []
        w.project_opened.connect(opened.append)
        w.open_project(project)
        while not opened:
            app.processEvents()
        big = w.review.summaries.names.index("big")
        w.clusters.select_cluster(big)
        w.activateWindow()
        view = w.gallery.view
        view.setFocus()
        deadline = time.monotonic() + 10
        while not view.hasFocus() and time.monotonic() < deadline:
            app.processEvents()
        shown = w.gallery.shown_ids()
        rng = np.random.default_rng(1)
        keys = (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4)
        apply_ms, undo_ms, apply_core, undo_core = [], [], [], []

        def press(key, mods=Qt.KeyboardModifier.NoModifier) -> float:
            t = time.perf_counter()
            QTest.keyClick(view, key, mods)
            app.processEvents()
            view.viewport().repaint()  # the refresh is done when the tiles are painted
            return (time.perf_counter() - t) * 1e3

        for r in range(args.repeats):
            ids = rng.choice(shown, size=min(args.select, len(shown)), replace=False)
            w.gallery.select_images(ids)
            app.processEvents()
            before = w.controller.stack.index()
            core_ms.clear()
            apply_ms.append(press(keys[r % 4]))
            apply_core.append(sum(core_ms))
            assert w.controller.stack.index() == before + 1, "the key did not act"
            core_ms.clear()
            undo_ms.append(press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier))
            undo_core.append(sum(core_ms))
            assert w.controller.stack.index() == before
        w.close()
        app.processEvents()

    print(f"project: {args.images:,} images; gallery cluster: {len(shown):,} images; "
          f"selection: {args.select:,}; {args.repeats} repeats")
    print("                         median      max   (database write, median)")
    for label, xs, core in (("tier key (apply)", apply_ms, apply_core),
                            ("Ctrl+Z (undo)", undo_ms, undo_core)):
        print(f"{label:22s} {statistics.median(xs):7.1f} ms {max(xs):7.1f} ms   "
              f"({statistics.median(core):.1f} ms)")
    print("target: each under 100 ms")


if __name__ == "__main__":
    main()
