"""Projects written by earlier releases open, migrate, and keep everything they held."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.store import SCHEMA_VERSION, Project

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def v1_project(tmp_path) -> Path:
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(FIXTURES / "project_v1.sqlite", folder / "project.sqlite")
    return folder


def test_v1_fixture_is_really_v1():
    conn = sqlite3.connect(FIXTURES / "project_v1.sqlite")
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "seed_sets" not in tables
    conn.close()


def test_v1_project_migrates_and_keeps_content(v1_project):
    with Project.open(v1_project) as p:
        assert p.schema_version == SCHEMA_VERSION >= 2
        ds = p.dataset()
        assert len(ds) == 12 and ds.paths[4] == "c1/4.jpg" and ds.lines[0] == 2
        assert ds.attributes["pose"][:2] == ["frontal", "left"]
        [run] = p.runs()
        assert np.allclose(p.scores(run.id)["sdd"], np.arange(12) * 5.0)
        assert cur.read_annotations(p) == {0: {"tier": "high"}, 3: {"tier": "high"}}
        assert p.clusters()[1][3] == "done"
        assert [r[2] for r in p.audit_log()][:4] == [
            "create_project", "add_run", "set_tier", "set_review_state"]
        # the new tables exist and work
        p.conn.execute("INSERT INTO seed_sets(cluster_id, state) VALUES (0, 'approved')")
    with Project.open(v1_project) as p:  # reopening does not migrate twice
        versions = [r[0] for r in p.conn.execute("SELECT version FROM schema_version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_v1_project_read_only_asks_for_upgrade(v1_project):
    with pytest.raises(Exception, match="older schema"):
        Project.open(v1_project, read_only=True)
