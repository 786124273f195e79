"""Seed approval workflow: propose, approve/reject, swap, add, approve the set; undo/redo;
state round-trips through the store; dashboard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.curation import seeds as sd
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.seedsets import sampling as sm
from fiqa_gui.core.seedsets.clustering import cluster_command
from fiqa_gui.core.store import Project
from fiqa_gui.core.store.seed_queries import approved_seeds
from tests.test_sampling import SIZES, build_project


@pytest.fixture
def proj(tmp_path):
    folder, info = build_project(tmp_path)
    with Project.open(folder) as p:
        cluster_command(p, (0.95, 0.8), k=10)
        yield p, info, folder


def snapshot(p: Project):
    return {"states": sd.seed_states(p), "sets": sd.seed_set_rows(p)}


def test_propose_marks_images_and_opens_sets(proj):
    p, info, _ = proj
    prop = sm.propose_seeds(p)
    cmd = sd.ProposeSeeds(p, prop)
    before = snapshot(p)
    cmd.apply(p)
    states = sd.seed_states(p)
    assert sorted(states) == prop.image_ids()
    assert set(states.values()) == {"proposed"}
    rows = sd.seed_set_rows(p)
    assert set(rows) == set(range(len(SIZES)))
    stored = json.loads(rows[0][2])
    assert rows[0][0] == "open" and stored["sampling"]["quotas"]["high"] == 3
    assert stored["level"] is not None and stored["cluster_run_id"] is not None
    assert stored["coverage"] and "proposed_at" in stored
    cmd.revert(p)
    assert snapshot(p) == before


def test_reproposing_replaces_the_open_proposal_but_keeps_approved(proj):
    p, info, _ = proj
    sd.ProposeSeeds(p, sm.propose_seeds(p)).apply(p)
    first = approved_seeds(p)
    assert first == {}
    c0 = [i for i, s in sd.seed_states(p).items() if info["clusters"][i] == 0]
    sd.approve_images(p, c0[:2]).apply(p)
    second = sm.propose_seeds(p, params=sm.SamplingParams(seed=5))
    sd.ProposeSeeds(p, second, cluster_ids=[0]).apply(p)
    states = sd.seed_states(p)
    in_c0 = {i: s for i, s in states.items() if info["clusters"][i] == 0}
    assert [i for i, s in in_c0.items() if s == "approved"] == sorted(c0[:2])
    assert sorted(i for i, s in in_c0.items() if s == "proposed") == sorted(second.picks[0])
    assert len(in_c0) == 7  # 2 kept + 5 new: the quotas still hold
    # other clusters kept their first proposal
    assert any(s == "proposed" and info["clusters"][i] == 1 for i, s in states.items())


def test_approve_reject_and_approve_the_set(proj):
    p, info, _ = proj
    sd.ProposeSeeds(p, sm.propose_seeds(p)).apply(p)
    c1 = sorted(i for i in sd.seed_states(p) if info["clusters"][i] == 1)
    with pytest.raises(UserInputError, match="undecided"):
        sd.approve_seed_set(p, [1])
    sd.reject_images(p, c1[:1]).apply(p)
    sd.approve_images(p, c1[1:3]).apply(p)
    with pytest.raises(UserInputError):
        sd.approve_seed_set(p, [1], pending="maybe")
    cmd = sd.approve_seed_set(p, [1], pending="reject")
    cmd.apply(p)
    row = sd.seed_set_rows(p)[1]
    assert row[0] == "approved" and row[1]
    assert approved_seeds(p, only_approved_sets=True) == {1: c1[1:3]}
    states = sd.seed_states(p, c1)
    assert [states[i] for i in c1] == ["rejected", "approved", "approved"] + \
        ["rejected"] * (len(c1) - 3)
    cmd.revert(p)
    assert sd.seed_set_rows(p)[1][0] == "open"
    assert sd.seed_states(p, c1[3:4])[c1[3]] == "proposed"
    with pytest.raises(UserInputError, match="no approved seed"):
        sd.approve_seed_set(p, [2], pending="reject")
    sd.approve_seed_set(p, [2], pending="approve").apply(p)
    assert sd.seed_set_rows(p)[2][0] == "approved"
    # touching a seed of an approved set reopens it
    some = approved_seeds(p)[2][0]
    sd.reject_images(p, [some]).apply(p)
    assert sd.seed_set_rows(p)[2][0] == "open"


def test_swap_suggests_the_same_stratum_and_is_undoable(proj):
    p, info, _ = proj
    prop = sm.propose_seeds(p)
    sd.ProposeSeeds(p, prop).apply(p)
    out = prop.picks[0][0]
    key = prop.strata[out]
    options = sd.suggest_replacements(p, out, limit=3)
    assert options and out not in options
    assert not set(options) & set(sd.seed_states(p))
    assert all(info["clusters"][i] == 0 for i in options)
    stored = json.loads(sd.seed_set_rows(p)[0][2])
    sub = sm.load_inputs(p, sm.SamplingParams(subcluster_level=stored["level"])).subclusters
    first = options[0]
    same = [i for i in np.flatnonzero(info["clusters"] == 0)
            if sub[i] == key[1] and i not in sd.seed_states(p) and i != out]
    if same:  # same sub-cluster offered first when one is free (tier checked via strata)
        assert sub[first] == key[1]
    before = snapshot(p)
    cmd = sd.swap_seed(p, out)
    cmd.apply(p)
    states = sd.seed_states(p, [out, first])
    assert states == {out: "rejected", first: "proposed"}
    cmd.revert(p)
    assert snapshot(p) == before
    with pytest.raises(UserInputError, match="not a seed"):
        sd.swap_seed(p, first)
    other = int(np.flatnonzero(info["clusters"] == 1)[0])
    with pytest.raises(UserInputError, match="another cluster"):
        sd.swap_seed(p, out, other)


def test_add_by_hand_creates_an_open_set_and_clear_forgets(proj):
    p, info, _ = proj
    i = int(np.flatnonzero(info["clusters"] == 3)[0])
    sd.add_seeds(p, [i]).apply(p)
    assert sd.seed_states(p) == {i: "approved"}
    assert sd.seed_set_rows(p)[3][0] == "open"
    sd.clear_seeds(p, [i]).apply(p)
    assert sd.seed_states(p) == {}
    with pytest.raises(UserInputError):
        sd.add_seeds(p, [10_000])
    with pytest.raises(UserInputError):
        sd.add_seeds(p, [])


def test_whole_workflow_undo_redo_and_round_trip_through_reopen(proj):
    p, info, folder = proj
    stack = cur.CommandStack(p)
    states = [snapshot(p)]
    prop = sm.propose_seeds(p)
    steps = [
        lambda: sd.ProposeSeeds(p, prop),
        lambda: sd.approve_images(p, prop.picks[0][:3]),
        lambda: sd.reject_images(p, prop.picks[0][3:4]),
        lambda: sd.swap_seed(p, prop.picks[0][4]),
        lambda: sd.add_seeds(p, [int(np.flatnonzero(info["clusters"] == 3)[0])]),
        lambda: sd.approve_seed_set(p, [0, 3], pending="approve"),
        lambda: sd.reopen_seed_set(p, [3]),
    ]
    for make in steps:
        stack.push(make())
        states.append(snapshot(p))
    for expected in reversed(states[:-1]):
        stack.undo()
        assert snapshot(p) == expected
    for expected in states[1:]:
        stack.redo()
        assert snapshot(p) == expected
    final = snapshot(p)
    seeds = approved_seeds(p)
    actions = [r[2] for r in p.audit_log()]
    p.close()
    with Project.open(folder, read_only=True) as q:
        assert snapshot(q) == final
        assert approved_seeds(q) == seeds
        assert sd.seed_set_rows(q)[0][0] == "approved" and sd.seed_set_rows(q)[3][0] == "open"
        assert [r[2] for r in q.audit_log()] == actions
    for a in ("propose_seeds", "approve_seeds", "reject_seeds", "swap_seed", "add_seeds",
              "approve_seed_set", "reopen_seed_set", "undo:propose_seeds"):
        assert a in actions


def test_dashboard_counts_progress_and_tier_coverage(proj):
    p, info, _ = proj
    d0 = sd.progress_dashboard(p)
    assert d0.clusters == len(SIZES) and d0.sets_approved == 0 and d0.fraction_approved == 0
    prop = sm.propose_seeds(p)
    sd.ProposeSeeds(p, prop).apply(p)
    sd.approve_seed_set(p, [0, 1], pending="approve").apply(p)
    d = sd.progress_dashboard(p)
    assert d.sets_approved == 2 and d.sets_open == len(SIZES) - 2
    assert d.images_approved == len(prop.picks[0]) + len(prop.picks[1])
    assert d.images_proposed == len(prop.image_ids()) - d.images_approved
    assert d.approved_by_tier["high"] == 6 and d.approved_by_tier["mid"] == 4
    assert d.sets_covering_tier["low"] == 2
    assert d.as_dict()["fraction_approved"] == 0.5
