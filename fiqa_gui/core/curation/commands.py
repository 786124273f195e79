"""Curator actions as commands with `apply` / `revert`, each one SQLite transaction + audit row.

Nothing is buffered: when `apply()` returns, the action is on disk (WAL, synchronous=FULL) and its
audit-log row with it; when it raises, nothing of it was written. The GUI wraps these commands in
`QUndoCommand`s; `CommandStack` is the same undo/redo history for the CLI and tests.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.store.project import Project, ProjectError
from fiqa_gui.core.store.schema import transaction

TIERS = ("high", "mid", "low", "unusable")
REVIEW_STATES = ("unreviewed", "in_review", "done")
SEED_STATES = ("proposed", "approved", "rejected")
ANNOTATION_FIELDS = ("tier", "corrected_score", "wrong_identity", "seed_state", "note")


class SaveError(ProjectError):
    """The database refused a write (disk full, read-only medium); nothing of the action landed."""


def _ids(image_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(i) for i in image_ids})
    if not ids:
        raise UserInputError("no images selected", fix="select one or more images first.")
    return ids


class Command:
    """Base: subclasses fill `_apply(conn)` / `_revert(conn)` and describe themselves."""

    action = "command"

    def __init__(self) -> None:
        self.applied = False

    @property
    def text(self) -> str:
        """A short label for menus and the undo history ("Set tier 'low' on 12 images")."""
        return self.action

    def image_ids(self) -> list[int]:
        return []

    def apply(self, project: Project) -> None:
        self._run(project, self._apply, self.action, self._before(), self._after())
        self.applied = True

    def revert(self, project: Project) -> None:
        self._run(project, self._revert, f"undo:{self.action}", self._after(), self._before())
        self.applied = False

    # -- subclass hooks
    def _apply(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def _revert(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def _before(self) -> object:
        return None

    def _after(self) -> object:
        return None

    def _run(self, project: Project, body, action: str, before, after) -> None:
        if project.read_only:
            raise SaveError("the project is open read-only; the change was not made",
                            file=project.folder, fix="reopen it with write access.")
        conn = project.conn
        try:
            with transaction(conn):
                body(conn)
                conn.execute(
                    "INSERT INTO audit_log(action, image_ids, before_json, after_json) "
                    "VALUES (?, ?, ?, ?)",
                    (action, json.dumps(self.image_ids()), json.dumps(before),
                     json.dumps(after)))
        except sqlite3.OperationalError as err:
            raise SaveError(
                f"the change could not be saved ({err}); nothing of it was written and every "
                "earlier action is safe", file=project.folder / "project.sqlite",
                fix="free disk space or make the folder writable, then repeat the action.",
            ) from None


class SetAnnotation(Command):
    """Set one annotation field (tier, corrected score, wrong identity, seed state, note)."""

    action = "set_annotation"

    def __init__(self, project: Project, image_ids: Iterable[int], field: str, value) -> None:
        super().__init__()
        if field not in ANNOTATION_FIELDS:
            raise ValueError(f"unknown annotation field {field!r}")
        _check_value(field, value)
        self.field = field
        self.value = value
        self.ids = _ids(image_ids)
        _check_images_exist(project, self.ids)
        # Remember each image's current value so revert restores exactly that.
        current = dict(read_annotation_field(project, field, self.ids))
        self.previous = [current.get(i) for i in self.ids]
        self.action = f"set_{field}"

    @property
    def text(self) -> str:
        what = {"tier": "tier", "corrected_score": "corrected score",
                "wrong_identity": "wrong identity", "seed_state": "seed state",
                "note": "note"}[self.field]
        shown = "cleared" if self.value is None else repr(self.value)
        return f"Set {what} {shown} on {len(self.ids)} image(s)"

    def image_ids(self) -> list[int]:
        return self.ids

    def _before(self):
        return dict(zip(map(str, self.ids), self.previous, strict=True))

    def _after(self):
        return {self.field: self.value}

    def _apply(self, conn):
        _write_field(conn, self.field, [(i, self.value) for i in self.ids])

    def _revert(self, conn):
        _write_field(conn, self.field, list(zip(self.ids, self.previous, strict=True)))


def set_tier(project: Project, image_ids: Iterable[int], tier: str | None) -> SetAnnotation:
    return SetAnnotation(project, image_ids, "tier", tier)


def set_corrected_score(project: Project, image_ids, score: float | None) -> SetAnnotation:
    return SetAnnotation(project, image_ids, "corrected_score",
                         None if score is None else float(score))


def mark_wrong_identity(project: Project, image_ids, wrong: bool = True) -> SetAnnotation:
    return SetAnnotation(project, image_ids, "wrong_identity", 1 if wrong else 0)


def set_seed_state(project: Project, image_ids, state: str | None) -> SetAnnotation:
    return SetAnnotation(project, image_ids, "seed_state", state)


def set_note(project: Project, image_ids, note: str | None) -> SetAnnotation:
    return SetAnnotation(project, image_ids, "note", note or None)


class SetReviewState(Command):
    """Set the review state of clusters (unreviewed / in_review / done)."""

    action = "set_review_state"

    def __init__(self, project: Project, cluster_ids: Iterable[int], state: str) -> None:
        super().__init__()
        if state not in REVIEW_STATES:
            raise UserInputError(f"unknown review state {state!r}",
                                 fix=f"use one of {', '.join(REVIEW_STATES)}.")
        self.cluster_ids = sorted({int(c) for c in cluster_ids})
        rows = dict(project.conn.execute(
            f"SELECT id, review_state FROM clusters WHERE id IN ({_marks(self.cluster_ids)})",
            self.cluster_ids).fetchall())
        missing = [c for c in self.cluster_ids if c not in rows]
        if missing:
            raise UserInputError(f"no cluster with id {missing[0]}")
        self.previous = [rows[c] for c in self.cluster_ids]
        self.state = state

    @property
    def text(self) -> str:
        return f"Set review state '{self.state}' on {len(self.cluster_ids)} cluster(s)"

    def _before(self):
        return {"clusters": dict(zip(map(str, self.cluster_ids), self.previous, strict=True))}

    def _after(self):
        return {"clusters": self.cluster_ids, "review_state": self.state}

    def _apply(self, conn):
        conn.executemany("UPDATE clusters SET review_state = ? WHERE id = ?",
                         [(self.state, c) for c in self.cluster_ids])

    def _revert(self, conn):
        conn.executemany("UPDATE clusters SET review_state = ? WHERE id = ?",
                         list(zip(self.previous, self.cluster_ids, strict=True)))


class MoveImages(Command):
    """Move images to another cluster, named; a new name creates the cluster (undo removes it)."""

    action = "move_images"

    def __init__(self, project: Project, image_ids: Iterable[int], target: str) -> None:
        super().__init__()
        target = target.strip()
        if not target:
            raise UserInputError("the target cluster name is empty",
                                 fix="type the name of an existing or a new cluster.")
        self.ids = _ids(image_ids)
        _check_images_exist(project, self.ids)
        self.target = target
        row = project.conn.execute("SELECT id FROM clusters WHERE name = ?", (target,)).fetchone()
        self.creates = row is None
        self.target_id = (row[0] if row else project.conn.execute(
            "SELECT COALESCE(MAX(id), -1) + 1 FROM clusters").fetchone()[0])
        self.previous = [r[0] for r in project.conn.execute(
            f"SELECT cluster_id FROM images WHERE id IN ({_marks(self.ids)}) ORDER BY id",
            self.ids)]

    @property
    def text(self) -> str:
        new = " (new)" if self.creates else ""
        return f"Move {len(self.ids)} image(s) to cluster '{self.target}'{new}"

    def image_ids(self) -> list[int]:
        return self.ids

    def _before(self):
        return {"cluster_ids": dict(zip(map(str, self.ids), self.previous, strict=True))}

    def _after(self):
        return {"cluster": self.target, "cluster_id": self.target_id, "created": self.creates}

    def _apply(self, conn):
        if self.creates:
            conn.execute("INSERT INTO clusters(id, name, size) VALUES (?, ?, 0)",
                         (self.target_id, self.target))
        conn.executemany("UPDATE images SET cluster_id = ? WHERE id = ?",
                         [(self.target_id, i) for i in self.ids])
        _refresh_sizes(conn, set(self.previous) | {self.target_id})

    def _revert(self, conn):
        conn.executemany("UPDATE images SET cluster_id = ? WHERE id = ?",
                         list(zip(self.previous, self.ids, strict=True)))
        _refresh_sizes(conn, set(self.previous) | {self.target_id})
        if self.creates:
            conn.execute("DELETE FROM clusters WHERE id = ? AND size = 0", (self.target_id,))


class MergeClusters(Command):
    """Merge cluster `source` into `target`: its images move, the emptied cluster is removed."""

    action = "merge_clusters"

    def __init__(self, project: Project, source_id: int, target_id: int) -> None:
        super().__init__()
        if source_id == target_id:
            raise UserInputError("cannot merge a cluster into itself",
                                 fix="pick two different clusters.")
        rows = {r[0]: r for r in project.conn.execute(
            "SELECT id, name, size, review_state FROM clusters WHERE id IN (?, ?)",
            (source_id, target_id))}
        for c in (source_id, target_id):
            if c not in rows:
                raise UserInputError(f"no cluster with id {c}")
        self.source = rows[source_id]
        self.target_id = target_id
        self.target_name = rows[target_id][1]
        self.ids = [r[0] for r in project.conn.execute(
            "SELECT id FROM images WHERE cluster_id = ? ORDER BY id", (source_id,))]
        # Seed-set rows: the source's goes with the cluster; an approved target set is
        # reopened, since images it never approved join it. Both come back on undo.
        sets = {r[0]: r for r in project.conn.execute(
            "SELECT cluster_id, state, approved_at, params_json FROM seed_sets "
            "WHERE cluster_id IN (?, ?)", (source_id, target_id))}
        self.source_set = sets.get(source_id)
        self.target_set = sets.get(target_id)

    @property
    def text(self) -> str:
        return f"Merge cluster '{self.source[1]}' into '{self.target_name}'"

    def image_ids(self) -> list[int]:
        return self.ids

    def _before(self):
        return {"source": list(self.source)}

    def _after(self):
        return {"into": self.target_id}

    def _apply(self, conn):
        conn.execute("UPDATE images SET cluster_id = ? WHERE cluster_id = ?",
                     (self.target_id, self.source[0]))
        conn.execute("DELETE FROM seed_sets WHERE cluster_id = ?", (self.source[0],))
        if self.target_set is not None and self.target_set[1] == "approved" and self.ids:
            conn.execute("UPDATE seed_sets SET state = 'open', approved_at = NULL "
                         "WHERE cluster_id = ?", (self.target_id,))
        conn.execute("DELETE FROM clusters WHERE id = ?", (self.source[0],))
        _refresh_sizes(conn, {self.target_id})

    def _revert(self, conn):
        conn.execute("INSERT INTO clusters(id, name, size, review_state) VALUES (?, ?, ?, ?)",
                     self.source)
        conn.executemany("UPDATE images SET cluster_id = ? WHERE id = ?",
                         [(self.source[0], i) for i in self.ids])
        for row in (self.source_set, self.target_set):
            if row is not None:
                conn.execute("INSERT OR REPLACE INTO seed_sets(cluster_id, state, approved_at,"
                              " params_json) VALUES (?, ?, ?, ?)", row)
        _refresh_sizes(conn, {self.target_id, self.source[0]})


class CommandStack:
    """Undo/redo history of applied commands (the GUI uses QUndoStack over the same commands)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, cmd: Command) -> Command:
        cmd.apply(self.project)
        self._done.append(cmd)
        self._undone.clear()
        return cmd

    def undo(self) -> Command | None:
        if not self._done:
            return None
        cmd = self._done[-1]
        cmd.revert(self.project)
        self._undone.append(self._done.pop())
        return cmd

    def redo(self) -> Command | None:
        if not self._undone:
            return None
        cmd = self._undone[-1]
        cmd.apply(self.project)
        self._done.append(self._undone.pop())
        return cmd

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)


# ------------------------------------------------------------------------ reading annotations
def read_annotation_field(project: Project, field: str,
                          image_ids: Sequence[int] | None = None) -> list[tuple[int, object]]:
    """(image id, value) for images with a non-null value of `field`."""
    if field not in ANNOTATION_FIELDS:
        raise ValueError(field)
    sql = f"SELECT image_id, {field} FROM annotations WHERE {field} IS NOT NULL"
    if image_ids is None:
        return project.conn.execute(sql).fetchall()
    out = []
    for start in range(0, len(image_ids), 900):  # stay under SQLite's variable limit
        chunk = list(image_ids[start:start + 900])
        out += project.conn.execute(f"{sql} AND image_id IN ({_marks(chunk)})", chunk).fetchall()
    return out


def read_annotations(project: Project) -> dict[int, dict]:
    """Every image's annotations that have any value set, keyed by image id."""
    rows = project.conn.execute(
        f"SELECT image_id, {', '.join(ANNOTATION_FIELDS)} FROM annotations").fetchall()
    out = {}
    for r in rows:
        values = {f: v for f, v in zip(ANNOTATION_FIELDS, r[1:], strict=True)
                  if v is not None and not (f == "wrong_identity" and v == 0)}
        if values:
            out[r[0]] = values
    return out


# ------------------------------------------------------------------------ helpers
def _marks(values: Sequence) -> str:
    return ", ".join("?" * len(values))


def _check_value(field: str, value) -> None:
    allowed = {"tier": TIERS, "seed_state": SEED_STATES}.get(field)
    if allowed is not None and value is not None and value not in allowed:
        raise UserInputError(f"unknown {field.replace('_', ' ')} {value!r}",
                             fix=f"use one of {', '.join(allowed)}.")
    if field == "corrected_score" and value is not None and not 0 <= float(value) <= 100:
        raise UserInputError(f"corrected score {value} is outside 0–100",
                             fix="give a score between 0 and 100.")


def _check_images_exist(project: Project, ids: list[int]) -> None:
    n = project.image_count()
    bad = [i for i in ids if not 0 <= i < n]
    if bad:
        raise UserInputError(f"no image with id {bad[0]} (the project has {n} images)")


def _write_field(conn: sqlite3.Connection, field: str, pairs: list[tuple[int, object]]) -> None:
    # Upsert only the edited rows; `updated_at` records when the curator last touched each one.
    conn.executemany(
        f"INSERT INTO annotations(image_id, {field}) VALUES (?, ?) "
        f"ON CONFLICT(image_id) DO UPDATE SET {field} = excluded.{field}, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        [(i, 0 if (v is None and field == "wrong_identity") else v) for i, v in pairs])


def _refresh_sizes(conn: sqlite3.Connection, cluster_ids: set[int]) -> None:
    conn.executemany(
        "UPDATE clusters SET size = (SELECT COUNT(*) FROM images WHERE cluster_id = ?) "
        "WHERE id = ?", [(c, c) for c in cluster_ids])
