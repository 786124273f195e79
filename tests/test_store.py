"""The project file: create, close, reopen with the same content; runs; schema versions."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.loading import load_data
from fiqa_gui.core.store import SCHEMA_VERSION, Project
from fiqa_gui.core.store.schema import migrate, stored_version


@pytest.fixture
def project(small_data, tmp_path):
    data = load_data(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    with Project.create(tmp_path / "proj", data) as p:
        yield p


def test_round_trip_restores_everything(small_data, tmp_path, project):
    folder = project.folder
    n = project.image_count()
    run_id = project.add_run(
        "score", {"repeats": 12, "seed": 3},
        {"sdd": np.linspace(0, 100, n), "cr": np.full(n, np.nan)},
        [["singleton"] if i == n - 1 else [] for i in range(n)],
        device="cpu", seed=3, duration_s=0.5, extra={"sharpness": np.arange(n, dtype=float)})
    project.close()

    with Project.open(folder) as p:
        ds = p.dataset()
        src = load_data(manifest=small_data["manifest"]).dataset
        assert ds.paths == src.paths and ds.clusters == src.clusters
        assert ds.attributes == src.attributes
        assert ds.lines == src.lines
        assert ds.absolute_path(0) == src.absolute_path(0)
        assert np.array_equal(p.embeddings(), small_data["emb"])
        assert (folder / "embeddings.npy").is_file() and p.thumbnails_dir.is_dir()
        [run] = p.runs()
        assert (run.id, run.kind, run.device, run.seed, run.params) == (
            run_id, "score", "cpu", 3, {"repeats": 12, "seed": 3})
        scores = p.scores(run_id)
        assert np.allclose(scores["sdd"], np.linspace(0, 100, n))
        assert np.isnan(scores["cr"]).all() and np.isnan(scores["iq"]).all()
        assert scores["flags"][-1] == ["singleton"] and scores["flags"][0] == []
        assert np.array_equal(scores["sharpness"], np.arange(n))
        assert [a[2] for a in p.audit_log()] == ["create_project", "add_run"]


def test_wal_mode_and_indexes(project):
    assert project.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in project.conn.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND name NOT LIKE 'sqlite_%'")}
    assert {"images_cluster", "clusters_review_state", "scores_sdd", "scores_cr",
            "annotations_tier", "annotations_seed_state"} <= indexes


def test_audit_log_is_append_only(project):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.conn.execute("DELETE FROM audit_log")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.conn.execute("UPDATE audit_log SET action = 'x'")


def test_paths_not_pixels(project):
    cols = {r[1] for r in project.conn.execute("PRAGMA table_info(images)")}
    assert "path" in cols and not any("blob" in r[2].lower() for r in project.conn.execute(
        "PRAGMA table_info(images)"))


def test_create_refuses_existing_project_and_nonempty_folder(small_data, tmp_path, project):
    data = load_data(manifest=small_data["manifest"])
    with pytest.raises(UserInputError, match="already exists"):
        Project.create(project.folder, data)
    other = tmp_path / "busy"
    other.mkdir()
    (other / "file.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="not empty"):
        Project.create(other, data)
    assert (other / "file.txt").read_text() == "keep me"


def test_failed_create_leaves_nothing(small_data, tmp_path):
    data = load_data(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    data.embeddings = None  # keep it simple; fail inside the DB write instead
    data.dataset.paths[1] = data.dataset.paths[0]  # violates UNIQUE(path) mid-transaction
    with pytest.raises(sqlite3.IntegrityError):
        Project.create(tmp_path / "p2", data)
    assert not (tmp_path / "p2").exists()
    assert not any(p.name.startswith(".p2.creating") for p in tmp_path.iterdir())


def test_reference_embeddings_in_place(small_data, tmp_path):
    data = load_data(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    with Project.create(tmp_path / "ref", data, copy_embeddings=False) as p:
        assert p.embeddings_path() == small_data["embeddings"].resolve()
        assert not (p.folder / "embeddings.npy").exists()


def test_open_non_project_and_newer_schema(project, tmp_path):
    with pytest.raises(UserInputError, match="not a FIQA Curator project"):
        Project.open(tmp_path)
    project.conn.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION + 1,))
    folder = project.folder
    project.close()
    with pytest.raises(UserInputError, match="newer FIQA Curator"):
        Project.open(folder)


def test_migrations_from_empty_database(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    assert stored_version(conn) == 0
    assert migrate(conn) == 0
    assert stored_version(conn) == SCHEMA_VERSION
    assert migrate(conn) == SCHEMA_VERSION  # idempotent


def test_corrupt_database_is_a_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "project.sqlite").write_bytes(b"garbage" * 100)
    with pytest.raises(UserInputError, match="cannot be read"):
        Project.open(tmp_path / "bad")


def test_read_only_open(project):
    folder = project.folder
    project.close()
    with Project.open(folder, read_only=True) as p:
        assert len(p.dataset()) == 9
        with pytest.raises(sqlite3.OperationalError):
            p.conn.execute("UPDATE clusters SET review_state = 'done'")


def test_dataset_columns_read_in_chunks_equal_the_rows(project, monkeypatch):
    """`dataset()` reads whole columns as strings per chunk of ids: across chunk ends, with a
    line break inside a path, unreadable marks, partly known sizes and a missing manifest line
    it equals a row-by-row read of the table."""
    conn = project.conn
    conn.execute("UPDATE images SET path = 'odd\nname.jpg' WHERE id = 4")
    conn.execute("UPDATE images SET unreadable = 1 WHERE id IN (2, 7)")
    conn.execute("UPDATE images SET width = 64 + id, height = 48 WHERE id % 3 = 0")
    monkeypatch.setattr(Project, "_COLUMN_CHUNK", 2)
    n = project.image_count()
    rows = conn.execute("SELECT path, cluster_id, manifest_line, unreadable, width, height "
                        "FROM images ORDER BY id").fetchall()
    name_of = dict(conn.execute("SELECT id, name FROM clusters"))
    ds = project.dataset()
    assert len(ds) == n and ds.paths == [r[0] for r in rows]
    assert ds.clusters == [name_of[r[1]] for r in rows]
    assert ds.lines == [r[2] for r in rows]
    assert ds.unreadable.tolist() == [bool(r[3]) for r in rows]
    assert ds.image_sizes.tolist() == [[r[4] or 0, r[5] or 0] for r in rows]
    conn.execute("UPDATE images SET unreadable = 0")
    conn.execute("UPDATE images SET manifest_line = id + 2")  # the plain case: no column read
    plain = project.dataset()
    assert plain.lines == list(range(2, n + 2)) and not plain.unreadable.any()
    conn.execute("UPDATE images SET manifest_line = NULL WHERE id = 5")
    assert project.dataset().lines is None
