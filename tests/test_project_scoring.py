"""Scoring a project end to end: stored runs, flags with explanations, CLI CSV, re-scoring."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.cli import main
from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.demo.project import ensure_demo_project
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.export.score_table import read_scores_csv
from fiqa_gui.core.labels.project_scoring import (
    project_labels,
    rank_moves,
    rescore_with_seeds,
    score_project,
)
from fiqa_gui.core.scoring.pipeline import ScoringParams
from fiqa_gui.core.store import Project


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    return ensure_demo_project(tmp_path_factory.mktemp("demo") / "d", n_clusters=16)


@pytest.fixture
def project(demo_folder, tmp_path):
    import shutil

    dst = tmp_path / "p"
    shutil.copytree(demo_folder, dst, ignore=shutil.ignore_patterns(".lock"))
    with Project.open(dst) as p:
        yield p


def test_score_project_stores_everything_and_reopens(project):
    run_id = score_project(project, ScoringParams(repeats=3))
    folder = project.folder
    project.close()
    with Project.open(folder) as p:
        run = p.runs()[-1]
        assert run.id == run_id and run.params["repeats"] == 3 and run.device == "cpu"
        assert run.duration_s > 0 and run.seed == 0
        s = p.scores(run_id)
        n = p.image_count()
        for col in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality", "lowinfo",
                    "strength", "sharpness"):
            assert len(s[col]) == n and np.isfinite(s[col]).sum() > n * 0.9, col
        assert np.nanmin(s["quality"]) >= 0 and np.nanmax(s["quality"]) <= 100
        details = p.flag_details(run_id)
        kinds = {d["flag"] for d in details}
        assert {"singleton", "identity_suspect", "near_duplicate"} <= kinds
        for d in details:
            assert d["explanation"] and isinstance(d["numbers"], dict)
        # every flag in the scores table has a stored explanation for that image or cluster
        flagged = {(i, f) for i, fl in enumerate(s["flags"]) for f in fl
                   if f in ("identity_suspect", "singleton", "near_duplicate")}
        explained = {(d["image_id"], d["flag"]) for d in details if d["image_id"] is not None}
        assert {(i, f) for i, f in flagged if f != "near_duplicate"} <= explained


def test_rescore_with_approved_seeds(project):
    base = score_project(project, ScoringParams(repeats=2))
    with pytest.raises(UserInputError, match="no approved seed"):
        rescore_with_seeds(project)
    pl = project_labels(project)
    base_scores = project.scores(base)
    # approve the two lowest-quality images of the largest cluster as seeds: quality must
    # change there and nowhere else
    c = int(np.argmax(np.bincount(pl.labels)))
    members = np.flatnonzero(pl.labels == c)
    seeds = members[np.argsort(base_scores["quality"][members])[:2]]
    cur.set_seed_state(project, seeds, "approved").apply(project)
    summary = rescore_with_seeds(project)
    new = project.scores(summary.run_id)
    changed = ~((new["quality"] == base_scores["quality"])
                | (np.isnan(new["quality"]) & np.isnan(base_scores["quality"])))
    assert changed[members].all() and not changed[pl.labels != c].any()
    assert [r.kind for r in project.runs()][-2:] == ["score", "rescore"]
    assert project.runs()[-1].params["base_run"] == base
    assert summary.clusters[0]["seeds"] == sorted(seeds.tolist())
    assert len(summary.clusters[0]["top_moves"]) == min(5, len(members))
    assert summary.clusters[0]["moves"]  # the cluster's own distribution of rank changes
    # "resolved" counts only shifts that were there: flagged, in the lower half by the old
    # quality, in the upper half by the new; flagged images already ranked high are apart
    flagged = [i for i, f in enumerate(base_scores["flags"]) if "score_shift" in f]
    assert flagged  # the demo plants one-good-many-poor clusters
    assert sorted(summary.resolved_score_shift + summary.still_shifted
                  + summary.already_fine) == flagged

    def upper_half(q, i):
        m = np.flatnonzero(pl.labels == pl.labels[i])
        rank = 1 + int((np.nan_to_num(q[m], nan=-np.inf) > q[i]).sum())
        return rank <= len(m) / 2

    for i in summary.already_fine:
        assert upper_half(base_scores["quality"], i)
    for i in summary.resolved_score_shift:
        assert not upper_half(base_scores["quality"], i) and upper_half(new["quality"], i)
    for i in summary.still_shifted:
        assert not upper_half(new["quality"], i)


def test_rank_moves():
    assert rank_moves(np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0])).tolist() == \
        [-2, 0, 2]


def test_cli_score_project_and_standalone(project, tmp_path, capsys):
    folder = str(project.folder)
    project.close()
    out = tmp_path / "scores.csv"
    assert main(["score", folder, "--repeats", "2", "--out", str(out), "-q"]) == 0
    t = read_scores_csv(out)
    with Project.open(folder) as p:
        ds = p.dataset()
        assert t["path"] == ds.paths
        trap_clusters = {d["cluster_id"] for d in p.flag_details(p.runs()[-1].id)
                         if d["flag"] == "consistency_trap"}
        names = p.cluster_names_by_id()
        manifest = ds.source_path
        emb = p.embeddings_path()
    for path, cluster, flags in zip(t["path"], t["cluster"], t["flags"], strict=True):
        if cluster in {names[c] for c in trap_clusters}:
            assert "consistency_trap" in flags.split(";"), path
    out2 = tmp_path / "standalone.csv"
    assert main(["score", "--manifest", str(manifest), "--embeddings", str(emb), "--out",
                 str(out2), "--repeats", "2", "--no-image-cues", "-q"]) == 0
    t2 = read_scores_csv(out2)
    assert t2["path"] == t["path"]
    assert t2["sdd"] == t["sdd"]  # same seed, same device: identical SDD
    assert all(v == "" for v in t2["iq"])


@pytest.mark.parametrize("args,expect", [
    (["--device", "cuda"], "CUDA"),
    (["--repeats", "0"], "--repeats must be at least 1"),
])
def test_cli_score_bad_options_exit_2(project, capsys, args, expect):
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    folder = str(project.folder)
    project.close()
    assert main(["score", folder, "-q", *args]) == 2
    assert expect in capsys.readouterr().err


def test_cli_cluster_sample_export_round_trip(project, tmp_path, capsys):
    """A curator's headless session: cluster, sample + approve, export; files parse back."""
    import csv
    import json

    folder = str(project.folder)
    project.close()
    assert main(["cluster", folder, "-q"]) == 0
    assert "level 2  cosine ≥ 0.50" in capsys.readouterr().out
    assert main(["sample", folder, "--quotas", "high=2,mid=1,low=1", "--approve",
                 "--approve-sets", "--coverage", str(tmp_path / "cov.csv"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "approved the seed sets" in out
    out_dir = tmp_path / "export"
    assert main(["export", folder, "--csv", str(out_dir / "seeds.csv"), "--jsonl",
                 str(out_dir / "seeds.jsonl"), "--labels", str(out_dir / "labels.txt"),
                 "--tree", str(out_dir / "tree"), "-q"]) == 0
    with Project.open(folder, read_only=True) as p:
        approved = {i for i, s in cur.read_annotations(p).items()
                    if s.get("seed_state") == "approved"}
        n = p.image_count()
    with open(out_dir / "seeds.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {int(r["image_id"]) for r in rows} == approved and approved
    jsonl = [json.loads(line) for line in (out_dir / "seeds.jsonl").read_text().splitlines()]
    assert {r["image_id"] for r in jsonl} == approved
    labels = (out_dir / "labels.txt").read_text().splitlines()
    assert len(labels) >= n - 5 and all(len(line.split("\t")) == 2 for line in labels)
    # PNG or JPEG (the demo saves near-duplicate copies and JPEG-degraded images as .jpg)
    assert sum(1 for f in (out_dir / "tree").rglob("*") if f.suffix in (".png", ".jpg")) \
        == len(approved)
    # refusing to overwrite is a bad-input exit, and nothing is changed
    before = (out_dir / "seeds.csv").read_bytes()
    assert main(["export", folder, "--csv", str(out_dir / "seeds.csv"), "-q"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out_dir / "seeds.csv").read_bytes() == before
