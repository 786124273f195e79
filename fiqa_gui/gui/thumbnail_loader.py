"""Thumbnails decoded on worker threads, with a disk cache in the project and an in-memory LRU.

Workers produce `QImage`s (JPEG decodes straight to thumbnail size through
`QImageReader.setScaledSize`); the GUI thread turns them into `QPixmap`s in small batches, so it
never stalls. Only what the view paints is requested; requests that fall far behind (fast
scrolling) or belong to the previous cluster are dropped before they are decoded.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from fiqa_gui.core.errors import Cancelled

BUCKETS = (64, 128, 256)  # decode sizes; the delegate scales to the exact tile size
CACHE_FACTOR = 2  # cache a thumbnail only when the source is this many times larger
DRAIN_BATCH = 64  # pixmaps made per GUI-thread turn (~3 ms), so the thread never stalls
FAILED = object()  # the image could not be decoded


def bucket_for(px: int) -> int:
    """The smallest decode size that covers a tile of `px` pixels."""
    for b in BUCKETS:
        if px <= b:
            return b
    return BUCKETS[-1]


def cache_path(cache_dir: Path, image_id: int, bucket: int) -> Path:
    """`thumbnails/<bucket>/<id // 1000>/<id>.jpg`: at most 1,000 files per folder."""
    return cache_dir / str(bucket) / f"{image_id // 1000:04d}" / f"{image_id}.jpg"


def decode_thumbnail(path: str, bucket: int, cache: Path | None = None) -> QImage | None:
    """Read a thumbnail (longest side ≤ bucket) from the disk cache or the source; write the
    cache when the source is much larger. Thread-safe; None when the file cannot be decoded."""
    if cache is not None:
        try:
            if cache.stat().st_mtime >= os.stat(path).st_mtime:
                img = QImage(str(cache))
                if not img.isNull():
                    return img
        except OSError:
            pass
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    big = size.isValid() and max(size.width(), size.height()) > bucket
    if big:
        reader.setScaledSize(size.scaled(QSize(bucket, bucket), Qt.AspectRatioMode.KeepAspectRatio))
    img = reader.read()
    if img.isNull():
        return None
    if big and cache is not None and max(size.width(), size.height()) >= CACHE_FACTOR * bucket:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f".{cache.name}.{threading.get_ident()}.tmp")
            if img.save(str(tmp), "JPG", 90):
                os.replace(tmp, cache)
        except OSError:
            pass  # a read-only project still shows thumbnails, just without a cache
    return img


def warm_cache(paths: list[str], cache_dir: Path, bucket: int, *, progress=None,
               cancel=None) -> int:
    """Fill the disk cache for `paths` (image id = list index); a job for the whole project."""
    done = 0
    for i, p in enumerate(paths):
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        decode_thumbnail(p, bucket, cache_path(cache_dir, i, bucket))
        done += 1
        if progress is not None and (i % 200 == 0 or i == len(paths) - 1):
            progress(i + 1, len(paths), "warming thumbnail cache")
    return done


class _Wake(QObject):
    wake = Signal()


class ThumbnailLoader(QObject):
    """Asynchronous thumbnail source for the gallery; `ready` lists ids that just landed."""

    ready = Signal(object)  # list[int] of image ids now available at the current bucket

    def __init__(self, cache_dir: Path | None = None, *, threads: int | None = None,
                 memory_bytes: int = 256 << 20, max_pending: int = 600,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.pool = QThreadPool(self)
        # one core stays free for the GUI thread: decoding never competes with painting
        self.pool.setMaxThreadCount(threads or max(1, QThread.idealThreadCount() - 1))
        self.memory_bytes = memory_bytes
        self.max_pending = max_pending
        self.bucket = 128
        self._lru: OrderedDict[tuple[int, int], object] = OrderedDict()
        self._bytes = 0
        self._pending: OrderedDict[tuple[int, int], list[bool]] = OrderedDict()
        self._landed: list = []
        self._lock = threading.Lock()
        self._wake_scheduled = False
        self._waker = _Wake()
        self._waker.wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self.decoded = 0  # thumbnails decoded since creation (statistics)

    # ----------------------------------------------------------------- requests (GUI thread)
    def set_cache_dir(self, cache_dir: Path | None) -> None:
        self.drop_pending()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.clear_memory()

    def set_display_size(self, px: int) -> None:
        bucket = bucket_for(px)
        if bucket != self.bucket:
            self.drop_pending()
            self.bucket = bucket

    def cached(self, image_id: int):
        """The pixmap (or FAILED) if in memory, else None; never starts a decode."""
        key = (image_id, self.bucket)
        pix = self._lru.get(key)
        if pix is not None:
            self._lru.move_to_end(key)
        return pix

    def get(self, image_id: int, path: str):
        """The pixmap (or FAILED) if in memory; otherwise start a decode and return None."""
        key = (image_id, self.bucket)
        pix = self._lru.get(key)
        if pix is not None:
            self._lru.move_to_end(key)
            return pix
        if key in self._pending:
            self._pending.move_to_end(key)
            return None
        ticket = [False]
        self._pending[key] = ticket
        if len(self._pending) > self.max_pending:
            # Far behind the user (fast scrolling): forget the oldest half before decoding it.
            for _ in range(len(self._pending) - self.max_pending // 2):
                _, old = self._pending.popitem(last=False)
                old[0] = True
        cache = cache_path(self.cache_dir, image_id, self.bucket) if self.cache_dir else None
        self.pool.start(partial(self._work, key, path, cache, ticket))
        return None

    def drop_pending(self) -> None:
        """Forget every queued request (cluster switch, size change)."""
        for ticket in self._pending.values():
            ticket[0] = True
        self._pending.clear()
        self.pool.clear()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def idle(self) -> bool:
        with self._lock:
            landed = bool(self._landed)
        return not self._pending and not landed

    def clear_memory(self) -> None:
        self._lru.clear()
        self._bytes = 0

    def shutdown(self) -> None:
        self.drop_pending()
        self.pool.waitForDone()
        with self._lock:
            self._landed.clear()

    # ----------------------------------------------------------------- workers
    def _work(self, key, path: str, cache: Path | None, ticket: list[bool]) -> None:
        if ticket[0]:
            return  # dropped while queued
        img = decode_thumbnail(path, key[1], cache)
        with self._lock:
            self.decoded += 1
            self._landed.append((key, img, ticket))
            wake = not self._wake_scheduled
            self._wake_scheduled = True
        if wake:
            self._waker.wake.emit()

    # ----------------------------------------------------------------- landing (GUI thread)
    def _drain(self) -> None:
        with self._lock:
            batch = self._landed[:DRAIN_BATCH]
            del self._landed[:DRAIN_BATCH]
            more = bool(self._landed)
            if not more:
                self._wake_scheduled = False
        ids = []
        for key, img, ticket in batch:
            if self._pending.get(key) is ticket:
                del self._pending[key]
            if img is None:
                self._store(key, FAILED, 0)
            else:
                self._store(key, QPixmap.fromImage(img), img.width() * img.height() * 4)
            if key[1] == self.bucket:
                ids.append(key[0])
        if more:
            QTimer.singleShot(0, self._drain)
        if ids:
            self.ready.emit(ids)

    def _store(self, key, value, nbytes: int) -> None:
        old = self._lru.pop(key, None)
        if isinstance(old, QPixmap):
            self._bytes -= old.width() * old.height() * 4
        self._lru[key] = value
        self._bytes += nbytes
        while self._bytes > self.memory_bytes and len(self._lru) > 1:
            _, evicted = self._lru.popitem(last=False)
            if isinstance(evicted, QPixmap):
                self._bytes -= evicted.width() * evicted.height() * 4
