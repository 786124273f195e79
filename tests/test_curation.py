"""Curator actions: apply, revert, re-apply, store matches; audit log; lock; save failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.loading import load_data
from fiqa_gui.core.store import Project
from fiqa_gui.core.store.project import ProjectLocked, ProjectNotWritable


@pytest.fixture
def project(small_data, tmp_path):
    data = load_data(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    with Project.create(tmp_path / "proj", data) as p:
        yield p


def snapshot(p: Project) -> dict:
    return {
        "annotations": cur.read_annotations(p),
        "clusters": p.clusters(),
        "images": p.conn.execute("SELECT id, cluster_id FROM images ORDER BY id").fetchall(),
    }


def make_commands(p: Project):
    return [
        lambda: cur.set_tier(p, [0, 1, 2], "low"),
        lambda: cur.set_tier(p, [1, 4], "high"),
        lambda: cur.set_corrected_score(p, [3], 87.5),
        lambda: cur.mark_wrong_identity(p, [5]),
        lambda: cur.set_note(p, [0, 8], "blurry; check source"),
        lambda: cur.set_seed_state(p, [2], "approved"),
        lambda: cur.SetReviewState(p, [0, 1], "done"),
        lambda: cur.MoveImages(p, [6, 7], "carol_b"),
        lambda: cur.MoveImages(p, [8], "alice"),
        lambda: cur.MergeClusters(p, 1, 0),
    ]


@pytest.mark.parametrize("k", range(10))
def test_each_action_applies_reverts_and_reapplies(project, k):
    make = make_commands(project)[k]
    before = snapshot(project)
    cmd = make()
    cmd.apply(project)
    after = snapshot(project)
    assert after != before
    cmd.revert(project)
    assert snapshot(project) == before
    cmd.apply(project)
    assert snapshot(project) == after


def test_stack_undo_redo_everything(project):
    stack = cur.CommandStack(project)
    states = [snapshot(project)]
    for make in make_commands(project):
        stack.push(make())
        states.append(snapshot(project))
    for expected in reversed(states[:-1]):
        stack.undo()
        assert snapshot(project) == expected
    assert not stack.can_undo and stack.undo() is None
    for expected in states[1:]:
        stack.redo()
        assert snapshot(project) == expected


def test_actions_persist_across_reopen_and_audit_matches(project):
    stack = cur.CommandStack(project)
    for make in make_commands(project)[:6]:
        stack.push(make())
    stack.undo()  # seed state undone
    expected = snapshot(project)
    folder = project.folder
    project.close()
    with Project.open(folder) as p:
        assert snapshot(p) == expected
        log = p.audit_log()
        actions = [row[2] for row in log]
        assert actions[0] == "create_project"
        assert actions[1:] == ["set_tier", "set_tier", "set_corrected_score",
                               "set_wrong_identity", "set_note", "set_seed_state",
                               "undo:set_seed_state"]
        tier_row = log[1]
        assert json.loads(tier_row[3]) == [0, 1, 2]
        assert json.loads(tier_row[4]) == {"0": None, "1": None, "2": None}
        assert json.loads(tier_row[5]) == {"tier": "low"}


def test_move_to_new_cluster_and_merge_sizes(project):
    cur.MoveImages(project, [6, 7], "carol_b").apply(project)
    clusters = {name: (cid, size) for cid, name, size, _ in project.clusters()}
    assert clusters["carol"][1] == 0 and clusters["carol_b"] == (4, 2)
    merge = cur.MergeClusters(project, clusters["bob"][0], clusters["alice"][0])
    merge.apply(project)
    names = {name: size for _, name, size, _ in project.clusters()}
    assert "bob" not in names and names["alice"] == 6
    merge.revert(project)
    names = {name: size for _, name, size, _ in project.clusters()}
    assert names["bob"] == 3 and names["alice"] == 3


def test_bad_values_are_user_errors(project):
    with pytest.raises(UserInputError, match="unknown tier"):
        cur.set_tier(project, [0], "great")
    with pytest.raises(UserInputError, match="no images selected"):
        cur.set_tier(project, [], "low")
    with pytest.raises(UserInputError, match="no image with id 99"):
        cur.set_tier(project, [99], "low")
    with pytest.raises(UserInputError, match="outside 0–100"):
        cur.set_corrected_score(project, [0], 140)
    with pytest.raises(UserInputError, match="into itself"):
        cur.MergeClusters(project, 0, 0)


def test_second_writer_is_refused_read_only_allowed(project):
    with pytest.raises(ProjectLocked, match="open in another FIQA Curator"):
        Project.open(project.folder)
    with Project.open(project.folder, read_only=True) as ro:
        with pytest.raises(cur.SaveError, match="read-only"):
            cur.set_tier(ro, [0], "low").apply(ro)
    folder = project.folder
    project.close()
    Project.open(folder).close()  # the lock was released with the first


def test_lock_held_by_another_process(project, tmp_path):
    folder = project.folder
    project.close()
    code = ("import sys,time; from fiqa_gui.core.store import Project; "
            f"p = Project.open({str(folder)!r}); print('open', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(ProjectLocked, match=f"process {proc.pid}"):
            Project.open(folder)
    finally:
        proc.kill()
        proc.wait()
    Project.open(folder).close()  # a killed holder leaves no stale lock


def test_full_disk_loses_nothing(project):
    cur.set_tier(project, [0], "high").apply(project)
    # Make SQLite report "database or disk is full" on the next page it needs.
    pages = project.conn.execute("PRAGMA page_count").fetchone()[0]
    project.conn.execute(f"PRAGMA max_page_count = {pages}")
    before = snapshot(project)
    with pytest.raises(cur.SaveError, match="could not be saved"):
        cur.set_note(project, list(range(9)), "x" * 20000).apply(project)
    assert snapshot(project) == before
    assert cur.read_annotations(project)[0] == {"tier": "high"}


def test_read_only_folder_is_refused_for_writing(project, monkeypatch):
    folder = project.folder
    project.close()
    real_access = os.access
    # Root ignores permission bits, so simulate a read-only medium at the os.access level.
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK
                        else real_access(path, mode))
    with pytest.raises(ProjectNotWritable, match="read-only"):
        Project.open(folder)
    with Project.open(folder, read_only=True) as ro:
        assert len(ro.dataset()) == 9


CRASH_WORKER = r"""
import sys
from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.store import Project
p = Project.open(sys.argv[1])
tiers = cur.TIERS
for k in range(int(sys.argv[2])):
    ids = [(k * 7 + j) % p.image_count() for j in range(3)]
    cur.set_tier(p, ids, tiers[k % 4]).apply(p)
    if k % 5 == 4:
        cur.set_note(p, [k % p.image_count()], f"note {k}").apply(p)
    print(k, flush=True)
"""


@pytest.mark.parametrize("kill_after", [3, 17, 41])
def test_crash_safety_sigkill(project, kill_after):
    """Kill a writer with SIGKILL mid-stream: every returned action is on disk, log agrees."""
    folder = project.folder
    project.close()
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WORKER, str(folder), "100000"],
                            stdout=subprocess.PIPE, text=True)
    returned = -1
    deadline = time.monotonic() + 60
    while returned < kill_after and time.monotonic() < deadline:
        returned = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Project.open(folder) as p:
        log = [r for r in p.audit_log() if r[2] in ("set_tier", "set_note")]
        tier_actions = [r for r in log if r[2] == "set_tier"]
        # Every action whose call returned is there (the kill may land after one more commit).
        assert len(tier_actions) >= returned + 1
        # Replaying the audit log reproduces the annotations exactly.
        replay: dict[int, dict] = {}
        for _, _, action, ids, _, after in log:
            field = action.removeprefix("set_")
            for i in json.loads(ids):
                replay.setdefault(i, {})[field] = json.loads(after)[field]
        assert replay == cur.read_annotations(p)


def test_merge_clusters_with_seed_sets_round_trips(project):
    conn = project.conn
    conn.execute("INSERT INTO seed_sets(cluster_id, state, params_json) VALUES (1, 'open', '{}')")
    conn.execute("INSERT INTO seed_sets(cluster_id, state, approved_at) "
                 "VALUES (0, 'approved', '2026-01-01')")
    rows = lambda: conn.execute("SELECT * FROM seed_sets ORDER BY cluster_id").fetchall()  # noqa: E731
    before, snap = rows(), snapshot(project)
    merge = cur.MergeClusters(project, 1, 0)
    merge.apply(project)
    assert rows() == [(0, "open", None, None)]  # source's row gone, approved target reopened
    merge.revert(project)
    assert rows() == before and snapshot(project) == snap
