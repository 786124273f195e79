"""Schema of `project.sqlite` and its migrations, applied in order from the stored version.

Each migration is a list of SQL statements run in one transaction together with the version bump,
so a crash mid-migration leaves the previous version intact. Add a migration by appending to
`MIGRATIONS`; never edit a released one (tests open fixture databases of every old version).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

V1 = [
    """CREATE TABLE schema_version (
        version INTEGER NOT NULL,
        applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE clusters (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        review_state TEXT NOT NULL DEFAULT 'unreviewed'
    )""",
    "CREATE INDEX clusters_review_state ON clusters(review_state)",
    """CREATE TABLE images (
        id INTEGER PRIMARY KEY,            -- manifest row, 0-based; also the embeddings row
        path TEXT NOT NULL UNIQUE,         -- as given (relative to the image root, or absolute)
        cluster_id INTEGER NOT NULL REFERENCES clusters(id),
        manifest_line INTEGER,
        unreadable INTEGER NOT NULL DEFAULT 0,
        width INTEGER,
        height INTEGER
    )""",
    "CREATE INDEX images_cluster ON images(cluster_id)",
    """CREATE TABLE attribute_names (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE attributes (
        image_id INTEGER NOT NULL REFERENCES images(id),
        attribute_id INTEGER NOT NULL REFERENCES attribute_names(id),
        value TEXT NOT NULL,
        PRIMARY KEY (image_id, attribute_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX attributes_value ON attributes(attribute_id, value)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                -- 'score', later 'rescore', 'cluster', ...
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        params_json TEXT NOT NULL,
        device TEXT,
        seed INTEGER,
        duration_s REAL,
        note TEXT
    )""",
    """CREATE TABLE scores (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        sdd REAL, sdd_signed REAL, cr REAL, ccs REAL, nnccs REAL, iq REAL, quality REAL,
        flags TEXT NOT NULL DEFAULT '',    -- ';'-separated
        extra_json TEXT,                   -- further per-image values of the run (cues, ...)
        PRIMARY KEY (run_id, image_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX scores_sdd ON scores(run_id, sdd)",
    "CREATE INDEX scores_cr ON scores(run_id, cr)",
    "CREATE INDEX scores_quality ON scores(run_id, quality)",
    """CREATE TABLE annotations (
        image_id INTEGER PRIMARY KEY REFERENCES images(id),
        tier TEXT,                         -- high / mid / low / unusable
        corrected_score REAL,
        wrong_identity INTEGER NOT NULL DEFAULT 0,
        seed_state TEXT,                   -- proposed / approved / rejected
        note TEXT,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )""",
    "CREATE INDEX annotations_tier ON annotations(tier)",
    "CREATE INDEX annotations_seed_state ON annotations(seed_state)",
    """CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        action TEXT NOT NULL,
        image_ids TEXT,                    -- JSON list
        before_json TEXT,
        after_json TEXT
    )""",
    # The audit log is append-only: the database itself refuses edits and deletions.
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]

V2 = [
    # Per-cluster seed-set approval (the seed states of single images live in `annotations`).
    """CREATE TABLE seed_sets (
        cluster_id INTEGER PRIMARY KEY REFERENCES clusters(id),
        state TEXT NOT NULL DEFAULT 'open',  -- open / approved
        approved_at TEXT,
        params_json TEXT                     -- the sampling parameters of the proposal
    )""",
    "CREATE INDEX seed_sets_state ON seed_sets(state)",
    # Multi-threshold clustering results: one level per threshold, nested tight → loose.
    """CREATE TABLE cluster_levels (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        level INTEGER NOT NULL,
        threshold REAL NOT NULL,
        PRIMARY KEY (run_id, level)
    ) WITHOUT ROWID""",
    """CREATE TABLE subclusters (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        level INTEGER NOT NULL,
        image_id INTEGER NOT NULL REFERENCES images(id),
        label INTEGER NOT NULL,
        PRIMARY KEY (run_id, level, image_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX subclusters_label ON subclusters(run_id, level, label)",
]

V3 = [
    # Why each flag was raised: words for the inspector, numbers for checking them.
    """CREATE TABLE flag_details (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        flag TEXT NOT NULL,
        cluster_id INTEGER NOT NULL,
        image_id INTEGER,                  -- NULL for cluster-level flags
        explanation TEXT NOT NULL,
        numbers_json TEXT
    )""",
    "CREATE INDEX flag_details_cluster ON flag_details(run_id, cluster_id)",
    "CREATE INDEX flag_details_image ON flag_details(run_id, image_id)",
    "CREATE INDEX flag_details_flag ON flag_details(run_id, flag)",
]

V4 = [
    # `INSERT OR REPLACE` deletes the old row without firing the delete trigger (recursive
    # triggers are off): refuse any insert that names an id the log already holds.
    """CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
       WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]

MIGRATIONS: list[list[str]] = [V1, V2, V3, V4]  # MIGRATIONS[k] brings version k to version k + 1
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionError(ValueError):
    """The schema_version table holds something that is not a version number."""


def stored_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open database; 0 for an empty one."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if row is None:
        return 0
    values = [v for (v,) in conn.execute("SELECT version FROM schema_version")]
    bad = [v for v in values if not isinstance(v, int) or isinstance(v, bool) or v < 1]
    if bad:
        raise SchemaVersionError(f"the schema version {bad[0]!r} is not a version number")
    return max(values, default=0)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (connections use autocommit)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR, ...): a second
        # ROLLBACK would raise and hide the real error ("database or disk is full").
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT can leave the transaction open
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply every migration from the stored version up to `target`; return the old version."""
    old = stored_version(conn)
    for version in range(old, target):
        with transaction(conn):  # one transaction per migration, version bump included
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version(version) VALUES (?)", (version + 1,))
    return old
