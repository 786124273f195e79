"""GUI building blocks on their own: thumbnail loading and caching, jobs, the cluster table,
the platform check."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QPixmap  # noqa: E402

from fiqa_gui.core.errors import Cancelled  # noqa: E402
from fiqa_gui.core.review.clusters import summarize_clusters  # noqa: E402
from fiqa_gui.gui.app import display_available  # noqa: E402
from fiqa_gui.gui.cluster_table import COL_SDD, COL_SIZE, ClusterPanel  # noqa: E402
from fiqa_gui.gui.jobs import JobRunner, LatestOnly  # noqa: E402
from fiqa_gui.gui.thumbnail_loader import (  # noqa: E402
    FAILED,
    ThumbnailLoader,
    bucket_for,
    cache_path,
    decode_thumbnail,
)


def _jpeg(path, w, h, seed=0):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, quality=85)
    return path


def test_decode_scales_and_caches_large_images(tmp_path):
    src = _jpeg(tmp_path / "big.jpg", 800, 600)
    cache = cache_path(tmp_path / "thumbs", 1234, 128)
    assert cache == tmp_path / "thumbs" / "128" / "0001" / "1234.jpg"
    img = decode_thumbnail(str(src), 128, cache)
    assert (img.width(), img.height()) == (128, 96)  # aspect kept, longest side = bucket
    assert cache.is_file()  # much larger than the thumbnail: cached
    again = decode_thumbnail(str(src), 128, cache)
    assert (again.width(), again.height()) == (128, 96)
    # a newer source invalidates the cached thumbnail
    os.utime(src, (time.time() + 10, time.time() + 10))
    _jpeg(src, 400, 400, seed=1)
    os.utime(src, (time.time() + 10, time.time() + 10))
    img = decode_thumbnail(str(src), 128, cache)
    assert (img.width(), img.height()) == (128, 128)
    small = _jpeg(tmp_path / "small.jpg", 48, 48)
    small_cache = cache_path(tmp_path / "thumbs", 1, 128)
    img = decode_thumbnail(str(small), 128, small_cache)
    assert img.width() == 48 and not small_cache.exists()  # not worth caching
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert decode_thumbnail(str(tmp_path / "broken.jpg"), 128) is None


def test_bucket_for():
    assert [bucket_for(p) for p in (48, 64, 65, 128, 200, 400)] == [64, 64, 128, 128, 256, 256]


def test_loader_delivers_in_batches_and_drops_stale_requests(qtbot, tmp_path):
    paths = [str(_jpeg(tmp_path / f"{i}.jpg", 300, 300, seed=i)) for i in range(40)]
    loader = ThumbnailLoader(tmp_path / "cache", threads=2)
    try:
        landed = []
        loader.ready.connect(landed.extend)
        assert all(loader.get(i, p) is None for i, p in enumerate(paths[:20]))
        assert loader.get(0, paths[0]) is None  # pending: not requested twice
        qtbot.waitUntil(loader.idle, timeout=10000)
        assert sorted(landed) == list(range(20))
        assert isinstance(loader.get(3, paths[3]), QPixmap)  # now from memory
        # a cluster switch drops what is queued; nothing of it lands later
        loader.pool.setMaxThreadCount(1)
        gate = threading.Event()
        loader.pool.start(gate.wait)  # occupy the only worker
        for i in range(20, 40):
            loader.get(i, paths[i])
        loader.drop_pending()
        gate.set()
        loader.pool.waitForDone()
        qtbot.wait(50)
        assert not [i for i in landed if i >= 20]
        assert loader.idle()
        # unreadable files land as FAILED, once
        (tmp_path / "bad.jpg").write_bytes(b"xx")
        loader.get(99, str(tmp_path / "bad.jpg"))
        qtbot.waitUntil(loader.idle, timeout=5000)
        assert loader.get(99, str(tmp_path / "bad.jpg")) is FAILED
    finally:
        loader.shutdown()


def test_loader_memory_is_bounded(qtbot, tmp_path):
    paths = [str(_jpeg(tmp_path / f"{i}.jpg", 256, 256, seed=i)) for i in range(12)]
    loader = ThumbnailLoader(None, threads=2, memory_bytes=5 * 128 * 128 * 4)
    try:
        for i, p in enumerate(paths):
            loader.get(i, p)
        qtbot.waitUntil(loader.idle, timeout=10000)
        assert loader._bytes <= loader.memory_bytes
        assert len(loader._lru) == 5
    finally:
        loader.shutdown()


def test_job_runner_progress_cancel_and_one_at_a_time(qtbot):
    jobs = JobRunner()
    jobs.show_dialogs = False
    seen = []
    jobs.progressed.connect(lambda d, t, s: seen.append((d, t, s)))

    def work(progress, cancel):
        for k in range(1000):
            cancel.check()
            progress(k, 1000, "working")
            time.sleep(0.002)
        return "finished"

    with qtbot.waitSignal(jobs.started):
        assert jobs.run("Work", work) is not None
    assert jobs.run("Other", work) is None  # busy: refused, the user is told
    assert "Work" in jobs.last_message[1]
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=5000)
    with qtbot.waitSignal(jobs.finished, timeout=5000) as sig:
        jobs.cancel()
    assert sig.args == ["Work", "cancelled"]
    # throttled: far fewer updates than calls
    assert len(seen) < 200
    results = []
    with qtbot.waitSignal(jobs.finished, timeout=5000) as sig:
        jobs.run("Quick", lambda p, c: 42, results.append)
    assert sig.args == ["Quick", "done"] and results == [42]
    jobs.shutdown()


def test_latest_only_delivers_only_the_newest(qtbot):
    lo = LatestOnly()
    got = []
    gate = threading.Event()
    lo.submit(lambda: gate.wait(5) and "first", got.append)
    lo.submit(lambda: "second", got.append)
    lo.submit(lambda: "third", got.append)
    gate.set()
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    lo.wait()
    qtbot.wait(20)
    assert got == ["third"]
    errors = []
    lo.submit(lambda: (_ for _ in ()).throw(Cancelled()), got.append, errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], Cancelled)
    lo.wait()


def test_cluster_panel_sort_keeps_selection_and_puts_nan_last(qtbot):
    labels = np.repeat(np.arange(5), [4, 9, 1, 6, 2])
    sdd = np.arange(len(labels), dtype=float)
    sdd[labels == 3] = np.nan
    flags = [[] for _ in labels]
    flags[0] = ["identity_suspect"]
    s = summarize_clusters(labels, ["e", "d", "c", "b", "a"], ["unreviewed"] * 5,
                           {"sdd": sdd, "cr": sdd / 100, "flags": flags})
    panel = ClusterPanel()
    qtbot.addWidget(panel)
    panel.set_summaries(s)
    got = []
    panel.cluster_selected.connect(got.append)
    assert panel.select_cluster(1)
    assert got == [1]
    panel.table.sortByColumn(COL_SIZE, Qt.SortOrder.DescendingOrder)
    order = [panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1) for r in range(5)]
    assert order == [1, 3, 0, 4, 2]
    assert panel.current_cluster() == 1  # the selection followed its row
    panel.table.sortByColumn(COL_SDD, Qt.SortOrder.AscendingOrder)
    order = [panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1) for r in range(5)]
    assert order[-1] == 3  # NaN last
    panel.table.sortByColumn(COL_SDD, Qt.SortOrder.DescendingOrder)
    order = [panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1) for r in range(5)]
    assert order[-1] == 3  # NaN last in both directions
    panel.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # by name
    assert panel.proxy.index(0, 1).data() == "a"
    panel.step(1)
    assert panel.current_cluster() != 1


def test_cluster_panel_filters_follow_sorting_and_a_new_project(qtbot):
    """The filter mask lives in the model (FILTER_ROLE): rows filtered by text and flag stay
    filtered through a sort; a new project's clusters start unfiltered."""
    labels = np.repeat(np.arange(5), [4, 9, 1, 6, 2])
    flags = [[] for _ in labels]
    flags[0] = flags[5] = ["identity_suspect"]  # clusters 0 and 1
    s = summarize_clusters(labels, ["ann", "bob", "anna", "carl", "dan"], ["unreviewed"] * 5,
                           {"sdd": np.arange(len(labels), dtype=float),
                            "cr": np.zeros(len(labels)), "flags": flags})
    panel = ClusterPanel()
    qtbot.addWidget(panel)
    panel.set_summaries(s)

    def shown():
        return sorted(panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1)
                      for r in range(panel.proxy.rowCount()))

    assert shown() == [0, 1, 2, 3, 4]
    panel.filter_edit.setText("ann")
    assert shown() == [0, 2]
    panel.table.sortByColumn(COL_SIZE, Qt.SortOrder.DescendingOrder)
    assert shown() == [0, 2]
    assert [panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1) for r in range(2)] == \
        [0, 2]  # 4 images before 1
    panel.set_flag_filter("identity_suspect")
    assert shown() == [0]
    panel.filter_edit.setText("")
    assert shown() == [0, 1]
    assert not panel.select_cluster(3)  # filtered out
    panel.set_summaries(s)  # another project: filters reset
    panel.filter_edit.setText("")
    assert shown() == [0, 1, 2, 3, 4] and panel.select_cluster(3)
    panel.set_summaries(None)
    assert panel.proxy.rowCount() == 0


@pytest.mark.parametrize("dense_from", [1_000, 2])
def test_gallery_rows_of_images_shown_few_or_many(qtbot, monkeypatch, dense_from):
    """An image's row, through the dict (few shown) or the dataset-sized array (many), also
    after switching between the two: images no longer shown have none."""
    from fiqa_gui.gui import gallery_model
    from fiqa_gui.gui.gallery_model import GalleryModel
    from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader

    monkeypatch.setattr(gallery_model, "DENSE_ROWS_FROM", dense_from)
    loader = ThumbnailLoader(None)
    model = GalleryModel(loader)
    model.show(np.array([9, 4, 7]), "sdd")
    assert [model.row_of(i) for i in (9, 4, 7, 5, -1, 10**6)] == [0, 1, 2, -1, -1, -1]
    assert model.rows_of([7, 5, 9]).tolist() == [2, -1, 0]
    model.show(np.array([5]), "sdd")  # below any threshold: the dict
    assert model.rows_of(np.array([9, 4, 7, 5])).tolist() == [-1, -1, -1, 0]
    model.show(np.array([3, 9, 1]), "sdd")
    assert model.rows_of(np.array([9, 4, 5, 3, 1])).tolist() == [1, -1, -1, 0, 2]
    assert model.rowCount() == 3 and model.image_id(2) == 1
    loader.shutdown()


@pytest.mark.parametrize("env, expected", [
    ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, False),
    ({"QT_QPA_PLATFORM": "xcb"}, False),
    ({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, True),
    ({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, True),
    ({}, False),
    ({"DISPLAY": ":1"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "eglfs"}, True),
])
def test_display_available(monkeypatch, env, expected):
    for k in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sys.platform", "linux")
    assert display_available() is expected


def test_display_probe_catches_a_platform_that_cannot_start(monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":4242")  # no X server there
    assert display_available() is True  # the environment alone looks fine
    assert display_available(probe=True) is False


def test_installed_pyside_keeps_none_and_true_alive(qtbot):
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None on every void call and to True
    on every emit, and the process aborts after a few thousand calls; pyproject pins < 6.12
    there. This fails if an installed PySide6 has the leak."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        fired = Signal(int)

    obj = Emitter()
    obj.fired.connect(lambda _v: None)
    if sys.version_info >= (3, 12):
        pytest.skip("None and True are immortal on Python ≥ 3.12")
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(20000):
        obj.setObjectName("x")
        obj.fired.emit(1)
    assert sys.getrefcount(None) > none_before - 1000
    assert sys.getrefcount(True) > true_before - 1000
