"""Shared fixtures: small on-disk datasets built from generated pixels and embeddings."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def write_image(path: Path, seed: int, size: int = 32, fmt: str | None = None) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt)


def write_manifest(path: Path, rows: list[dict], header: list[str] | None = None,
                   encoding: str = "utf-8") -> Path:
    header = header or list(rows[0])
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


@pytest.fixture
def small_data(tmp_path: Path):
    """4 clusters (sizes 3, 3, 2, 1) of real PNG files, a manifest with attributes, embeddings."""
    root = tmp_path / "data"
    sizes = {"alice": 3, "bob": 3, "carol": 2, "dave": 1}
    rows = []
    k = 0
    for cluster, n in sizes.items():
        for j in range(n):
            rel = f"img/{cluster}/{j}.png"
            write_image(root / rel, seed=k)
            rows.append({"path": rel, "cluster": cluster, "pose": ["frontal", "left"][j % 2],
                         "source": "cam1"})
            k += 1
    manifest = write_manifest(root / "manifest.csv", rows)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(rows), 16)).astype(np.float32)
    emb_path = root / "emb.npy"
    np.save(emb_path, emb)
    return {"root": root, "manifest": manifest, "embeddings": emb_path, "rows": rows,
            "emb": emb, "image_root": root / "img"}


SAMPLE_SIZES = (30, 14, 12, 9, 6, 1)  # cluster sizes of the scored sample project


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Path:
    """The scored sample project of the GUI tests, built once per session (read, never written)."""
    from fiqa_gui.gui.sample_data import build_sample_project

    return build_sample_project(tmp_path_factory.mktemp("sample"), SAMPLE_SIZES)


@pytest.fixture
def sample_project(sample_template, tmp_path) -> Path:
    """A fresh copy of the sample project for one test (tests write to it)."""
    import shutil

    dst = tmp_path / "project"
    shutil.copytree(sample_template, dst)
    return dst


@pytest.fixture
def window_factory(qtbot, tmp_path):
    """`make(folder=None, wait=True)` → a shown MainWindow (offscreen, its own settings file),
    opened on `folder` and waited for; every window is closed after the test and must leave
    no job thread running."""
    from fiqa_gui.gui.main_window import MainWindow
    from fiqa_gui.gui.settings import AppSettings

    windows = []

    def make(folder=None, wait=True):
        w = MainWindow(AppSettings.at(tmp_path / f"s{len(windows)}.ini"), detect_device=False)
        w.jobs.show_dialogs = False
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        windows.append(w)
        if folder is not None and wait:
            with qtbot.waitSignal(w.project_opened, timeout=20000):
                assert w.open_project(folder)
        return w

    yield make
    for w in windows:
        w.close()
        assert w.jobs.pool.activeThreadCount() == 0
