"""A project folder: `project.sqlite` + `embeddings.npy` (or a reference to one) + `thumbnails/`.

Image files are referenced by path and never modified; the database holds paths, never pixels.
A project is built in a temporary sibling folder (`.NAME.creating-XXXX`, locked by its writer)
and renamed into place, so a failed, cancelled or terminated `init` never leaves a half-written
project behind; one left by a killed `init` is removed by the next `init` of the same name.
Out of space anywhere during `init` is a one-line `ProjectError`, the staging folder removed.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fiqa_gui import __version__
from fiqa_gui.core.atomic_output import (
    hold_temporary,
    public_mode,
    release_temporary,
    sweep_stale,
)
from fiqa_gui.core.errors import (
    UserInputError,
    database_error_as_user_error,
    os_error_as_user_error,
)
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.loading import LoadedData
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.store.lock import ProjectLock
from fiqa_gui.core.store.schema import (
    SCHEMA_VERSION,
    SchemaVersionError,
    migrate,
    stored_version,
    transaction,
)

DB_NAME = "project.sqlite"
EMBEDDINGS_NAME = "embeddings.npy"
THUMBNAILS_DIR = "thumbnails"
SCORE_ARRAYS_DIR = "score_columns"  # one .npz per run: its columns as arrays (see `scores`)
SCORE_ARRAYS_FORMAT = 1
SCORE_COLUMNS = ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality")
COPY_CHUNK_ROWS = 65536
STAGING_INFIX = ".creating-"
_last_database: Path | None = None  # the database the process opened last, for error messages


def last_opened_database() -> Path | None:
    """The `project.sqlite` this process opened most recently (names the file in messages about
    errors SQLite raises later, e.g. a damaged page met in the middle of a query)."""
    return _last_database


class ProjectError(UserInputError):
    """A project folder that cannot be created or opened as asked."""


class ProjectLocked(ProjectError):
    """Another FIQA Curator process has the project open for writing."""


class ProjectNotWritable(ProjectError):
    """The project folder or its database cannot be written (read-only medium, permissions)."""


@dataclass(frozen=True)
class RunInfo:
    """One stored scoring (or other) run: what was computed, how, where and how long it took."""

    id: int
    kind: str
    created_at: str
    params: dict
    device: str | None
    seed: int | None
    duration_s: float | None
    note: str | None


def _connect(db_path: Path, read_only: bool = False, *, configure: bool = True
             ) -> sqlite3.Connection:
    if read_only:
        mode = "mode=ro"
        wal = db_path.with_name(db_path.name + "-wal")
        if not os.access(db_path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size):
            # A WAL database in a folder nobody can write: `mode=ro` fails ("attempt to write
            # a readonly database") because SQLite cannot create the -shm file. With no WAL
            # content pending and nothing able to change the file, it is safely immutable.
            mode = "immutable=1"
        conn = sqlite3.connect(f"{db_path.as_uri()}?{mode}", uri=True, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        if configure:
            _configure_writable(conn)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _configure_writable(conn: sqlite3.Connection) -> None:
    """WAL mode (this writes the file: only for a database known to be a project)."""
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a curator's saved action survives a power cut, not only a crash of the app.
    conn.execute("PRAGMA synchronous=FULL")


def _sql_values(col) -> list:
    """A column as SQL values: Python floats, None where NaN (one numpy pass, no per-value
    Python call)."""
    a = np.asarray(col, dtype=float)
    return np.where(np.isnan(a), None, a).tolist()


class Project:
    """An open project. Use `Project.create(...)` or `Project.open(...)`; close when done."""

    def __init__(self, folder: Path, conn: sqlite3.Connection, read_only: bool,
                 lock: ProjectLock | None = None) -> None:
        self.folder = folder
        self.conn = conn
        self.read_only = read_only
        self._lock = lock

    # ---------------------------------------------------------------- create / open / close
    @classmethod
    def create(cls, folder: str | Path, data: LoadedData, *, copy_embeddings: bool = True,
               progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> Project:
        """Write a new project for validated `data` into `folder` (which must not hold one)."""
        folder = Path(folder).absolute()
        if (folder / DB_NAME).exists():
            raise ProjectError("a project already exists here", file=folder,
                               fix="open it instead, or choose a new folder.")
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ProjectError("the folder exists and is not empty", file=folder,
                               fix="choose a new or empty folder for the project.")
        parent = folder.parent
        prefix = f".{folder.name}{STAGING_INFIX}"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            sweep_stale(parent, prefix, ("",))  # left by a killed init of this project
            staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        except OSError as err:
            raise ProjectError(f"cannot create the project folder ({err.strerror})", file=folder,
                               fix="choose a folder you can write to (with free space).") from None
        held = hold_temporary(staging, folder=True)
        try:
            public_mode(staging, folder=True)
            cls._write(staging, data, copy_embeddings, progress, cancel)
            if folder.exists():
                folder.rmdir()  # empty, checked above
            os.replace(staging, folder)
        except (OSError, sqlite3.OperationalError) as err:  # full disk, read-only, I/O
            shutil.rmtree(staging, ignore_errors=True)
            raise _creation_error(err, folder) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            release_temporary(held)
        return cls.open(folder)

    @staticmethod
    def _write(folder: Path, data: LoadedData, copy_embeddings: bool,
               progress: ProgressCallback, cancel: CancelToken | None) -> None:
        ds = data.dataset
        (folder / THUMBNAILS_DIR).mkdir()
        public_mode(folder / THUMBNAILS_DIR, folder=True)
        meta = {
            "app_version": __version__,
            "image_root": str(ds.root),
            "source": ds.source,
            "source_path": str(ds.source_path or ""),
            "n_images": str(len(ds)),
        }
        if data.embeddings is not None:
            emb = data.embeddings
            if copy_embeddings:
                _copy_array(emb, folder / EMBEDDINGS_NAME, progress, cancel)
                meta["embeddings"] = EMBEDDINGS_NAME
            else:
                if data.embeddings_path is None or data.embeddings_path.suffix != ".npy":
                    raise ProjectError("only a .npy file can be referenced in place",
                                       file=data.embeddings_path,
                                       fix="copy the embeddings into the project instead.")
                meta["embeddings"] = str(data.embeddings_path)
            meta["embeddings_source"] = str(data.embeddings_path or "")
            meta["embedding_dim"] = str(emb.shape[1])
        conn = _connect(folder / DB_NAME)
        try:
            migrate(conn)
            with transaction(conn):
                conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
                sizes = ds.cluster_sizes
                conn.executemany(
                    "INSERT INTO clusters(id, name, size) VALUES (?, ?, ?)",
                    ((i, name, int(sizes[i])) for i, name in enumerate(ds.cluster_names)))
                img_sizes = ds.image_sizes
                conn.executemany(
                    "INSERT INTO images(id, path, cluster_id, manifest_line, unreadable, width,"
                    " height) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ((i, ds.paths[i], int(ds.labels[i]),
                      ds.lines[i] if ds.lines is not None else None,
                      int(ds.unreadable[i]),
                      int(img_sizes[i, 0]) if img_sizes is not None and img_sizes[i, 0] else None,
                      int(img_sizes[i, 1]) if img_sizes is not None and img_sizes[i, 1] else None)
                     for i in range(len(ds))))
                names = list(ds.attributes)
                conn.executemany("INSERT INTO attribute_names(id, name) VALUES (?, ?)",
                                 enumerate(names))
                for a, name in enumerate(names):
                    values = ds.attributes[name]
                    conn.executemany(
                        "INSERT INTO attributes(image_id, attribute_id, value) VALUES (?, ?, ?)",
                        ((i, a, v) for i, v in enumerate(values) if v != ""))
                conn.execute(
                    "INSERT INTO audit_log(action, after_json) VALUES ('create_project', ?)",
                    (json.dumps({"images": len(ds), "clusters": len(ds.cluster_names),
                                 "source": str(ds.source_path)}),))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    @classmethod
    def open(cls, folder: str | Path, *, read_only: bool = False) -> Project:
        """Open an existing project, migrating an older schema; refuse a newer one."""
        folder = Path(folder).absolute()
        db = folder / DB_NAME
        if not db.is_file():
            raise ProjectError("not a FIQA Curator project (no project.sqlite)", file=folder,
                               fix="create one with 'fiqa-gui init' or pick another folder.")
        lock = None
        if not read_only:
            if not (os.access(folder, os.W_OK) and os.access(db, os.W_OK)):
                raise ProjectNotWritable(
                    "the project folder is read-only", file=folder,
                    fix="open it read-only (nothing can be changed), or copy it somewhere "
                    "writable.")
            lock = ProjectLock(folder)
            if not lock.acquire():
                pid = lock.holder()
                raise ProjectLocked(
                    f"the project is open in another FIQA Curator"
                    f"{f' (process {pid})' if pid else ''}", file=folder,
                    fix="close it there, or open this one read-only.")
        conn = None
        try:
            _check_header(db)
            # the version is read before anything is configured: a file that is not a
            # project (empty, foreign) must be refused unchanged, never migrated
            conn = _connect(db, read_only=read_only, configure=False)
            version = stored_version(conn)
            if version == 0:
                raise ProjectError(
                    "project.sqlite holds no FIQA Curator project (an empty or foreign "
                    "database); it was not changed", file=db,
                    fix="restore the project folder from a backup, or create it again.")
            if not read_only:
                _configure_writable(conn)
        except (sqlite3.DatabaseError, SchemaVersionError, ProjectError) as err:
            if conn is not None:
                conn.close()
            if lock is not None:
                lock.release()
            if isinstance(err, ProjectError):
                raise
            raise _open_error(err, db) from None
        global _last_database
        _last_database = db
        if version > SCHEMA_VERSION:
            conn.close()
            if lock is not None:
                lock.release()
            raise ProjectError(
                f"the project was written by a newer FIQA Curator (schema version {version}; "
                f"this version reads up to {SCHEMA_VERSION})", file=db,
                fix="update FIQA Curator to open it; the project was not changed.")
        if version < SCHEMA_VERSION:
            if read_only:
                conn.close()
                raise ProjectError(
                    f"the project uses an older schema (version {version}) and must be upgraded,"
                    " which needs write access", file=db, fix="open it once with write access.")
            try:
                migrate(conn)
            except BaseException:
                conn.close()
                lock.release()
                raise
        return cls(folder, conn, read_only, lock)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @classmethod
    def reader_of(cls, folder: str | Path) -> Project:
        """A second, read-only handle on a project this process already has open, for a worker
        thread (SQLite connections are not shared between threads here). It takes no lock and
        migrates nothing; close it when done."""
        folder = Path(folder).absolute()
        return cls(folder, _connect(folder / DB_NAME, read_only=True), True)

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- read
    @property
    def thumbnails_dir(self) -> Path:
        return self.folder / THUMBNAILS_DIR

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta"))

    @property
    def schema_version(self) -> int:
        return stored_version(self.conn)

    def dataset(self) -> Dataset:
        """Rebuild the `Dataset` (paths, clusters, attributes, marks) exactly as it was created."""
        meta = self.meta()
        name_of = dict(self.conn.execute("SELECT id, name FROM clusters"))
        n = self.image_count()
        paths = self._path_column(n)
        cluster_ids = self._int_column("cluster_id", n)
        # manifest lines and unreadable marks are nearly always the plain ones (line = id + 2:
        # a header, then one row per image; readable): then a scan finds no exception to read
        if self._any_image("manifest_line IS NOT id + 2"):
            lines = self._int_column("coalesce(manifest_line, -1)", n)
        else:
            lines = np.arange(2, n + 2, dtype=np.int64)
        unreadable = (self._int_column("unreadable", n).astype(bool)
                      if self._any_image("unreadable != 0") else np.zeros(n, dtype=bool))
        sizes = np.zeros((n, 2), dtype=np.int32)
        if self._any_image("width IS NOT NULL OR height IS NOT NULL"):
            for k, col in enumerate(("width", "height")):  # unknown (NULL) -> 0
                sizes[:, k] = self._int_column(f"coalesce({col}, 0)", n)
        names = [r[0] for r in self.conn.execute("SELECT name FROM attribute_names ORDER BY id")]
        attributes = {name: [""] * n for name in names}
        for image_id, a, value in self.conn.execute(
                "SELECT image_id, attribute_id, value FROM attributes"):
            attributes[names[a]][image_id] = value
        db_ids = np.fromiter(name_of, np.int64, len(name_of))
        order = np.argsort(db_ids)
        by_id = np.array(list(name_of.values()), dtype=object)[order]
        clusters = (by_id[np.searchsorted(db_ids[order], cluster_ids)].tolist() if n else [])
        return Dataset(
            root=Path(meta["image_root"]), paths=paths, clusters=clusters,
            attributes=attributes, source=meta["source"],
            source_path=Path(meta["source_path"]) if meta.get("source_path") else None,
            unreadable=unreadable, image_sizes=sizes,
            lines=lines.tolist() if (lines >= 0).all() else None)

    # Whole columns of `images` are read as one string per chunk of ids, split in C: a million
    # rows as Python tuples cost seconds, these a fraction of it. Rows are ids 0..n-1.
    _COLUMN_CHUNK = 250_000

    def _column_chunks(self, expr: str, n: int, sep: str):
        for lo in range(0, n, self._COLUMN_CHUNK):
            hi = min(n, lo + self._COLUMN_CHUNK)
            text = self.conn.execute(
                f"SELECT group_concat(v, {sep}) FROM (SELECT {expr} AS v FROM images "
                "WHERE id >= ? AND id < ? ORDER BY id)", (lo, hi)).fetchone()[0]
            yield lo, hi, text or ""

    def _any_image(self, condition: str) -> bool:
        return self.conn.execute(f"SELECT 1 FROM images WHERE {condition} LIMIT 1").fetchone() \
            is not None

    def _int_column(self, expr: str, n: int) -> np.ndarray:
        """An integer column (never NULL: `expr` coalesces) as an int64 array by image id."""
        out = np.zeros(n, dtype=np.int64)
        for lo, hi, text in self._column_chunks(expr, n, "' '"):
            values = np.fromstring(text, dtype=np.int64, sep=" ") if text else np.zeros(0, int)
            if len(values) != hi - lo:
                raise ProjectError(f"the images table has a gap in its ids near {lo}",
                                   file=self.folder / DB_NAME, fix="create the project again.")
            out[lo:hi] = values
        return out

    def _path_column(self, n: int) -> list[str]:
        """Every image's path, by image id."""
        out: list[str] = []
        for lo, hi, text in self._column_chunks("path", n, "char(10)"):
            part = text.split("\n") if hi > lo else []
            if len(part) != hi - lo:  # a path with a line break in it: row by row
                part = [r[0] for r in self.conn.execute(
                    "SELECT path FROM images WHERE id >= ? AND id < ? ORDER BY id", (lo, hi))]
            out += part
        return out

    def embeddings_path(self) -> Path | None:
        ref = self.meta().get("embeddings")
        if not ref:
            return None
        p = Path(ref)
        return p if p.is_absolute() else self.folder / p

    def embeddings(self) -> np.ndarray | None:
        """The embeddings, memory-mapped read-only (rows = image ids).

        Checked like any input (a numpy float N×d array, not truncated), and against the
        project: one row per image and the dimension it was created with, so a file swapped in
        from another model or data set is refused instead of scored.
        """
        from fiqa_gui.core.ingest.embeddings import load_embeddings

        p = self.embeddings_path()
        if p is None:
            return None
        if not p.is_file():
            raise ProjectError("the project's embeddings file is missing", file=p,
                               fix="restore it, or create the project again.")
        arr = load_embeddings(p)
        n = self.image_count()
        dim = self.meta().get("embedding_dim")
        restore = "restore the project's own embeddings file, or create the project again."
        if arr.shape[0] != n:
            raise ProjectError(f"the project's embeddings have {arr.shape[0]} rows but the "
                               f"project has {n} images (the file was replaced?)", file=p,
                               fix=restore)
        if dim and dim.isdigit() and arr.shape[1] != int(dim):
            raise ProjectError(f"the project's embeddings have {arr.shape[1]} dimensions but "
                               f"the project was created with {dim} (another model's file?)",
                               file=p, fix=restore)
        return arr

    def protected_paths(self, *, images: bool = True) -> Iterator[Path]:
        """What no output may replace (`atomic_output.guard_output`): the project folder and
        everything in it, its embeddings (also one referenced in place), the manifest or image
        folder and embeddings it was made from, and (with `images`) every image file."""
        meta = self.meta()
        yield self.folder
        emb = self.embeddings_path()
        if emb is not None:
            yield emb
        for key in ("embeddings_source", "source_path"):
            if meta.get(key):
                yield Path(meta[key])
        if images:
            root = Path(meta.get("image_root", self.folder))
            for (path,) in self.conn.execute("SELECT path FROM images ORDER BY id"):
                p = Path(path)
                yield p if p.is_absolute() else root / p

    def missing_images(self) -> tuple[int, int, Path | None]:
        """(missing, total, first missing path): image files not found under the image root."""
        ds = self.dataset()
        missing = [p for p in ds.absolute_paths() if not p.is_file()]
        return len(missing), len(ds), (missing[0] if missing else None)

    def relocate_images(self, new_root: str | Path) -> tuple[int, int]:
        """Point the project at the folder its images moved to; return (found, relative paths).

        Relative image paths are read from the image root; it changes in one transaction with an
        audit-log entry. Refused when none of the images are found under `new_root`.
        """
        if self.read_only:
            raise ProjectNotWritable("the project is open read-only", file=self.folder,
                                     fix="close it in the other FIQA Curator first.")
        new_root = Path(new_root).absolute()
        if not new_root.is_dir():
            raise ProjectError("the new image folder does not exist", file=new_root,
                               fix="give the folder the images now live in.")
        rel = [p for (p,) in self.conn.execute("SELECT path FROM images ORDER BY id")
               if not Path(p).is_absolute()]
        found = sum((new_root / p).is_file() for p in rel)
        if rel and not found:
            raise ProjectError(f"none of the project's {len(rel)} images are under this folder "
                               f"(first expected: {new_root / rel[0]})", file=new_root,
                               fix="give the folder that holds the cluster sub-folders.")
        old = self.meta().get("image_root", "")
        with transaction(self.conn):
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'image_root'",
                              (str(new_root),))
            self.conn.execute(
                "INSERT INTO audit_log(action, before_json, after_json) VALUES "
                "('relocate_images', ?, ?)", (json.dumps({"image_root": old}),
                                              json.dumps({"image_root": str(new_root)})))
        return found, len(rel)

    def clusters(self) -> list[tuple[int, str, int, str]]:
        """(id, name, size, review_state) for every cluster, in id (= sorted name) order."""
        return self.conn.execute(
            "SELECT id, name, size, review_state FROM clusters ORDER BY id").fetchall()

    def image_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    # ---------------------------------------------------------------- runs and scores
    def add_run(self, kind: str, params: dict, columns: dict[str, np.ndarray],
                flags: list[list[str]] | None = None, *, device: str | None = None,
                seed: int | None = None, duration_s: float | None = None,
                note: str | None = None, extra: dict[str, np.ndarray] | None = None,
                flag_details: list[tuple] | None = None) -> int:
        """Store a run with one score row per image, all in one transaction; return its id.

        `flag_details` rows are (flag, cluster_id, image_id or None, explanation, numbers dict).
        """
        n = self.image_count()
        for name, col in list(columns.items()) + list((extra or {}).items()):
            if len(col) != n:
                raise ValueError(f"column {name} has {len(col)} values for {n} images")
        unknown = set(columns) - set(SCORE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown score columns {sorted(unknown)}; put them in extra")
        values = [[None] * n if columns.get(c) is None else _sql_values(columns[c])
                  for c in SCORE_COLUMNS]
        joined = [";".join(f) for f in flags] if flags is not None else [""] * n
        extra_names = list(extra or {})
        extra_values = [_sql_values(extra[k]) for k in extra_names]
        extra_json = ([json.dumps(dict(zip(extra_names, row, strict=True)))
                       for row in zip(*extra_values, strict=True)] if extra_names else
                      [None] * n)
        arrays = {name: np.asarray(col, dtype=float) for name, col in columns.items()
                  if col is not None}
        extras = {k: np.asarray(extra[k], dtype=float) for k in extra_names}

        staged = None
        try:
            with transaction(self.conn):
                cur = self.conn.execute(
                    "INSERT INTO runs(kind, params_json, device, seed, duration_s, note) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, json.dumps(params, sort_keys=True), device, seed, duration_s, note))
                run_id = cur.lastrowid
                self.conn.executemany(
                    f"INSERT INTO scores(run_id, image_id, {', '.join(SCORE_COLUMNS)}, flags, "
                    f"extra_json) VALUES ({', '.join('?' * (len(SCORE_COLUMNS) + 4))})",
                    zip(itertools.repeat(run_id), range(n), *values, joined, extra_json))
                if flag_details:
                    self.conn.executemany(
                        "INSERT INTO flag_details(run_id, flag, cluster_id, image_id, explanation,"
                        " numbers_json) VALUES (?, ?, ?, ?, ?, ?)",
                        ((run_id, f, int(c), None if i is None else int(i), text, json.dumps(num))
                         for f, c, i, text, num in flag_details))
                self.conn.execute(
                    "INSERT INTO audit_log(action, after_json) VALUES ('add_run', ?)",
                    (json.dumps({"run_id": run_id, "kind": kind}),))
                # the arrays are written before the rows commit and put in place after: a file
                # that is there always belongs to a committed run (checked by its stamp)
                staged = self._stage_score_arrays(run_id, n, arrays, joined, extras)
        except BaseException:
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise
        self._place_score_arrays(run_id, staged)
        return run_id

    def runs(self, kind: str | None = None) -> list[RunInfo]:
        sql = ("SELECT id, kind, created_at, params_json, device, seed, duration_s, note "
               "FROM runs")
        args: tuple = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        return [RunInfo(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7])
                for r in self.conn.execute(sql + " ORDER BY id", args)]

    def latest_run(self, kind: str = "score") -> RunInfo | None:
        runs = self.runs(kind)
        return runs[-1] if runs else None

    def scores(self, run_id: int) -> dict[str, np.ndarray | list]:
        """Every column of one run, indexed by image id; NaN where a value is undefined.

        Read from the run's arrays (`score_columns/run-N.npz`, written with the run) when they
        are there and belong to this run; else from its rows in `scores` (projects written
        before the arrays existed), and the arrays are then written for the next time (not in
        a read-only project). The rows stay the record the SQL readers (export, sampling)
        query; the arrays are their column-wise copy.
        """
        out = self._read_score_arrays(run_id)
        if out is not None:
            return out
        out = self._scores_from_rows(run_id)
        if not self.read_only:
            n = len(out["flags"])
            extras = {k: v for k, v in out.items()
                      if k not in SCORE_COLUMNS and k != "flags"}
            try:
                self._place_score_arrays(run_id, self._stage_score_arrays(
                    run_id, n, {c: out[c] for c in SCORE_COLUMNS},
                    [";".join(f) for f in out["flags"]], extras))
            except (OSError, sqlite3.Error):
                pass  # only slower next time
        return out

    def _scores_from_rows(self, run_id: int) -> dict[str, np.ndarray | list]:
        rows = self.conn.execute(
            f"SELECT image_id, {', '.join(SCORE_COLUMNS)}, flags, extra_json FROM scores "
            "WHERE run_id = ? ORDER BY image_id", (run_id,)).fetchall()
        if not rows:
            raise ProjectError(f"run {run_id} does not exist in this project", file=self.folder,
                               fix="list the runs with 'fiqa-gui runs PROJECT'.")
        cols = list(zip(*rows, strict=True))
        del rows
        out: dict[str, np.ndarray | list] = {}
        for j, name in enumerate(SCORE_COLUMNS, start=1):
            out[name] = np.array(cols[j], dtype=float)  # NULL (None) -> NaN
        out["flags"] = [f.split(";") if f else [] for f in cols[-2]]
        extras = [json.loads(e) if e else {} for e in cols[-1]]
        for key in extras[0] if extras else {}:
            out[key] = np.array([np.nan if e.get(key) is None else e[key] for e in extras])
        return out

    # ---------------------------------------------------------------- a run's arrays
    def score_arrays_path(self, run_id: int) -> Path:
        return self.folder / SCORE_ARRAYS_DIR / f"run-{int(run_id)}.npz"

    def _score_stamp(self, run_id: int, n: int) -> str:
        """What ties an arrays file to its run: id, creation time, image count."""
        row = self.conn.execute("SELECT created_at FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.dumps({"format": SCORE_ARRAYS_FORMAT, "run_id": int(run_id),
                           "created_at": row[0] if row else None, "n": int(n)}, sort_keys=True)

    def _stage_score_arrays(self, run_id: int, n: int, columns: dict[str, np.ndarray],
                            joined_flags: list[str], extras: dict[str, np.ndarray]
                            ) -> Path | None:
        """Write a run's arrays to a temporary file beside their place; None when the folder
        cannot take it (the run then reads from its rows)."""
        vocab: dict[str, int] = {"": 0}
        codes = np.fromiter((vocab.setdefault(f, len(vocab)) for f in joined_flags),
                            np.int32, len(joined_flags))
        arrays = {"stamp": np.array(self._score_stamp(run_id, n)),
                  "flag_vocab": np.array(list(vocab), dtype=str),
                  "flag_codes": codes,
                  "extra_names": np.array(json.dumps(list(extras)))}
        arrays.update({f"col.{k}": np.asarray(v, dtype=float) for k, v in columns.items()})
        arrays.update({f"extra.{k}": np.asarray(v, dtype=float) for k, v in extras.items()})
        folder = self.folder / SCORE_ARRAYS_DIR
        try:
            folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".run-{int(run_id)}.", suffix=".npz",
                                       dir=folder)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            return None
        return Path(tmp)

    def _place_score_arrays(self, run_id: int, staged: Path | None) -> None:
        if staged is None:
            return
        try:
            public_mode(staged)
            os.replace(staged, self.score_arrays_path(run_id))
        except OSError:
            staged.unlink(missing_ok=True)

    def _read_score_arrays(self, run_id: int) -> dict[str, np.ndarray | list] | None:
        """A run's columns from its arrays file; None when it is missing, damaged or another
        run's (a database restored from a backup, say)."""
        p = self.score_arrays_path(run_id)
        if not p.is_file():
            return None
        n = self.image_count()
        try:
            with np.load(p, allow_pickle=False) as z:
                if str(z["stamp"]) != self._score_stamp(run_id, n):
                    return None
                out: dict[str, np.ndarray | list] = {}
                for name in SCORE_COLUMNS:
                    key = f"col.{name}"
                    out[name] = (np.array(z[key], dtype=float) if key in z.files
                                 else np.full(n, np.nan))
                vocab = [v.split(";") if v else [] for v in z["flag_vocab"].tolist()]
                codes = z["flag_codes"]
                extras = {k: np.array(z[f"extra.{k}"], dtype=float)
                          for k in json.loads(str(z["extra_names"]))}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        if len(codes) != n or any(len(v) != n for v in (*out.values(), *extras.values())):
            return None
        out["flags"] = [vocab[c].copy() for c in codes.tolist()]  # a list of its own per image
        out.update(extras)
        return out

    def flag_details(self, run_id: int, *, cluster_id: int | None = None,
                     image_id: int | None = None) -> list[dict]:
        """The stored explanations of a run's flags, optionally for one cluster or image."""
        sql = ("SELECT flag, cluster_id, image_id, explanation, numbers_json FROM flag_details "
               "WHERE run_id = ?")
        args: list = [run_id]
        if cluster_id is not None:
            sql += " AND cluster_id = ?"
            args.append(cluster_id)
        if image_id is not None:
            sql += " AND image_id = ?"
            args.append(image_id)
        return [{"flag": r[0], "cluster_id": r[1], "image_id": r[2], "explanation": r[3],
                 "numbers": json.loads(r[4]) if r[4] else {}}
                for r in self.conn.execute(sql + " ORDER BY rowid", args)]

    def image_cluster_ids(self) -> np.ndarray:
        """The current cluster id (database id) of every image, in image-id order."""
        return np.array([r[0] for r in self.conn.execute(
            "SELECT cluster_id FROM images ORDER BY id")], dtype=np.int64)

    def cluster_names_by_id(self) -> dict[int, str]:
        return dict(self.conn.execute("SELECT id, name FROM clusters"))

    def audit_log(self) -> list[tuple]:
        return self.conn.execute(
            "SELECT id, at, action, image_ids, before_json, after_json FROM audit_log "
            "ORDER BY id").fetchall()


def _copy_array(src: np.ndarray, dst: Path, progress: ProgressCallback,
                cancel: CancelToken | None) -> None:
    """Copy an (often memory-mapped) array into a new .npy in chunks, never loading it whole.

    Written with plain `write` calls, not through a memory map: on a full disk a write into a
    sparse mapped file kills the process with SIGBUS, while `write` raises ENOSPC.
    """
    header = {"descr": np.lib.format.dtype_to_descr(src.dtype), "fortran_order": False,
              "shape": tuple(int(d) for d in src.shape)}
    n = src.shape[0]
    with open(dst, "xb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, n, COPY_CHUNK_ROWS):
            if cancel is not None:
                cancel.check()
            f.write(np.ascontiguousarray(src[start:start + COPY_CHUNK_ROWS]).data)
            progress(min(n, start + COPY_CHUNK_ROWS), n, "copying embeddings")
        f.flush()
        os.fsync(f.fileno())
    public_mode(dst)


def _check_header(db: Path) -> None:
    """Refuse an empty or non-SQLite `project.sqlite` before SQLite opens (and alters) it."""
    try:
        with open(db, "rb") as f:
            head = f.read(16)
    except OSError as err:
        raise ProjectError(f"the project database cannot be read ({err.strerror})", file=db,
                           fix="check the file's permissions.") from None
    if not head:
        raise ProjectError("project.sqlite is empty (0 bytes); it was not changed", file=db,
                           fix="restore the project folder from a backup, or create it again.")
    if head != b"SQLite format 3\x00":
        raise ProjectError("the project database cannot be read: project.sqlite is not an "
                           "SQLite database; it was not changed",
                           file=db, fix="restore the project folder from a backup.")


def _open_error(err: Exception, db: Path) -> ProjectError:
    """Why a project database would not open, in the user's terms (never 'restore a backup' for
    a disk that is merely full)."""
    if isinstance(err, sqlite3.OperationalError) and "i/o" in str(err).lower():
        try:
            full = shutil.disk_usage(db.parent).free < (1 << 20)
        except OSError:
            full = False
        if full:
            return ProjectError("not enough disk space to open the project (SQLite needs room "
                                "for its journal); nothing was changed", file=db,
                                fix="free some disk space and try again.")
    mapped = database_error_as_user_error(err, db)
    if mapped is not None:
        return ProjectError(mapped.message, file=db, fix=mapped.fix)
    return ProjectError(f"the project database cannot be read ({err}); it was not changed",
                        file=db, fix="restore the project folder from a backup.")


def _creation_error(err: Exception, folder: Path) -> ProjectError:
    if isinstance(err, OSError):
        mapped = os_error_as_user_error(err, folder)
        if mapped is not None:
            return ProjectError(mapped.message + "; the partly written project was removed",
                                file=folder, fix=mapped.fix)
        return ProjectError(f"cannot write the project ({err.strerror or err}); the partly "
                            "written project was removed", file=folder,
                            fix="check free disk space and write permission.")
    text = str(err)
    if "full" in text.lower():
        return ProjectError("not enough disk space for the project database; the partly "
                            "written project was removed", file=folder,
                            fix="free some disk space, or create the project on another drive.")
    return ProjectError(f"cannot write the project database ({text}); the partly written "
                        "project was removed", file=folder,
                        fix="check free disk space and write permission.")
