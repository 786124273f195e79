"""Stratified seed sampling: tiers, quotas, coverage, exclusions, small clusters, determinism,
and farthest-point picks that are more spread than random ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.loading import LoadedData
from fiqa_gui.core.seedsets import sampling as sm
from fiqa_gui.core.store import Project

SIZES = (14, 12, 9, 3)  # cluster c3 is smaller than the default quota


def make_embeddings(sizes=SIZES, d: int = 24, seed: int = 0):
    """Per cluster a centre and two 'looks' (sub-clusters); rows grouped by cluster."""
    rng = np.random.default_rng(seed)
    rows, labels, looks = [], [], []
    for c, m in enumerate(sizes):
        centre = rng.normal(size=d)
        centre /= np.linalg.norm(centre)
        offs = rng.normal(size=(2, d)) * 0.6 / np.sqrt(d)
        for j in range(m):
            look = j % 2
            x = centre + offs[look] + rng.normal(size=d) * 0.15 / np.sqrt(d)
            rows.append(x / np.linalg.norm(x))
            labels.append(c)
            looks.append(look)
    return np.array(rows, np.float32), np.array(labels), np.array(looks)


def build_project(tmp_path: Path, *, sizes=SIZES, files: bool = False, quality: bool = True,
                  scores: bool = True, names=None, paths=None, seed: int = 0):
    """A project of len(sum(sizes)) images in clusters c0, c1, ... with attributes, embeddings
    with sub-cluster structure and (optionally) a score run. Returns (folder, info)."""
    emb, labels, looks = make_embeddings(sizes, seed=seed)
    n = len(labels)
    names = names or [f"c{c}" for c in range(len(sizes))]
    root = tmp_path / "images"
    paths = paths or [f"{names[c]}/img_{i:03d}.jpg" for i, c in enumerate(labels)]
    if files:
        for i, p in enumerate(paths):
            f = Path(p) if Path(p).is_absolute() else root / p
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(f"image {i}".encode())
    attrs = {"pose": [("frontal", "left")[lk] for lk in looks],
             "source": [("cam1", "cam2", "cam3")[i % 3] for i in range(n)]}
    ds = Dataset(root=root, paths=list(paths), clusters=[names[c] for c in labels],
                 attributes=attrs)
    folder = tmp_path / "proj"
    rng = np.random.default_rng(seed + 1)
    q = rng.uniform(0, 100, n)
    with Project.create(folder, LoadedData(ds, emb, None)) as p:
        if scores:
            cols = {"sdd": 100 - q, "cr": rng.uniform(0, 1, n)}
            if quality:
                cols["quality"] = q
            p.add_run("score", {"test": True}, cols, seed=0)
        db_clusters = np.array([r[0] for r in p.conn.execute(
            "SELECT cluster_id FROM images ORDER BY id")])
    return folder, {"emb": emb, "clusters": db_clusters, "looks": looks, "quality": q,
                    "sdd": 100 - q, "paths": list(paths), "root": root, "attrs": attrs,
                    "names": names}


# ----------------------------------------------------------------------------- tiers
def test_quantile_tiers_split_each_cluster_in_thirds():
    scores = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6, 50, 10, 20, np.nan], dtype=float)
    clusters = np.array([0] * 9 + [1] + [2, 2] + [3])
    t = sm.assign_tiers(scores, clusters)
    assert sorted(t[:9][np.argsort(scores[:9])]) == sorted(["low"] * 3 + ["mid"] * 3
                                                          + ["high"] * 3)
    assert list(t[np.argsort(scores[:9])]) == ["low"] * 3 + ["mid"] * 3 + ["high"] * 3
    assert t[9] == "mid"                      # a single image sits in the middle
    assert list(t[10:12]) == ["low", "high"]  # two images: one each end
    assert t[12] == sm.UNSCORED


def test_global_tiers_and_curator_override_and_eligibility():
    scores = np.array([10, 40, 60, 90, 95.0])
    clusters = np.zeros(5, int)
    t = sm.assign_tiers(scores, clusters, mode="global", thresholds=(30, 70))
    assert list(t) == ["low", "mid", "mid", "high", "high"]
    curator = np.array([None, "high", None, None, "unusable"], dtype=object)
    t = sm.assign_tiers(scores, clusters, mode="global", thresholds=(30, 70), curator=curator)
    assert list(t) == ["low", "high", "mid", "high", "unusable"]
    eligible = np.array([True, True, True, False, True])
    t = sm.assign_tiers(scores, clusters, eligible=eligible)  # the excluded row is not ranked
    assert t[3] == sm.UNSCORED and list(t[[0, 1, 2, 4]]) == ["low", "mid", "mid", "high"]


def test_params_validate_and_round_trip_json():
    p = sm.SamplingParams(quotas={"high": 4, "mid": 1, "low": 0}, tier_mode="global",
                          thresholds=(20.0, 80.0), attributes=("pose",), seed=3)
    assert sm.SamplingParams.from_json(p.to_json()) == p
    with pytest.raises(UserInputError):
        sm.SamplingParams(quotas={"best": 2})
    with pytest.raises(UserInputError):
        sm.SamplingParams(tier_mode="global")
    with pytest.raises(UserInputError):
        sm.SamplingParams(quantiles=(0.8, 0.2))


# ----------------------------------------------------------------------------- farthest point
def test_farthest_point_picks_are_more_spread_than_random_picks():
    emb, _, _ = make_embeddings((200,), d=16, seed=3)
    rng = np.random.default_rng(0)
    fps = sm.farthest_point_order(emb, 8, seed=1)
    assert len(set(fps.tolist())) == 8
    spread = sm.min_pairwise_distance(emb[fps])
    randoms = [sm.min_pairwise_distance(emb[rng.choice(len(emb), 8, replace=False)])
               for _ in range(50)]
    assert spread > max(randoms)
    np.testing.assert_array_equal(fps, sm.farthest_point_order(emb, 8, seed=1))
    anchored = sm.farthest_point_order(emb, 3, anchors=emb[fps[:2]])
    assert fps[0] not in anchored and fps[1] not in anchored


# ----------------------------------------------------------------------------- one cluster
def test_quotas_are_met_and_every_look_is_covered():
    emb, _, looks = make_embeddings((30,), seed=4)
    scores = np.linspace(0, 100, 30)
    tiers = sm.assign_tiers(scores, np.zeros(30, int))
    keys = [(str(tiers[i]), int(looks[i])) for i in range(30)]
    params = sm.SamplingParams(quotas={"high": 3, "mid": 2, "low": 2})
    picks, cov = sm.sample_cluster(emb, keys, params)
    got = [keys[j][0] for j in picks]
    assert got.count("high") == 3 and got.count("mid") == 2 and got.count("low") == 2
    for tier in ("high", "mid", "low"):  # quota >= 2 strata (looks): both looks present
        assert {keys[j][1] for j in picks if keys[j][0] == tier} == {0, 1}
    assert sum(c.picked for c in cov) == 7
    assert all(c.picked <= c.available and c.picked == c.quota for c in cov)


def test_kept_seeds_count_toward_quotas_and_fill_tops_up():
    emb, _, looks = make_embeddings((12,), seed=5)
    keys = [("high",) if i < 2 else ("low",) for i in range(12)]
    kept = np.zeros(12, bool)
    kept[0] = True
    params = sm.SamplingParams(quotas={"high": 3, "low": 1})
    picks, cov = sm.sample_cluster(emb, keys, params, kept=kept)
    assert 0 not in picks and sorted(keys[j][0] for j in picks) == ["high", "low"]
    high = next(c for c in cov if c.tier == "high")
    assert (high.available, high.quota, high.picked) == (2, 2, 2)  # shortfall: 2 of 3
    filled, _ = sm.sample_cluster(emb, keys, sm.SamplingParams(quotas={"high": 3, "low": 1},
                                                              fill=True), kept=kept)
    assert len(filled) == 3  # 1 kept + 3 picked = the 4 wanted


# ----------------------------------------------------------------------------- whole dataset
def test_stratified_sample_exclusions_small_clusters_and_determinism():
    emb, labels, looks = make_embeddings()
    rng = np.random.default_rng(2)
    scores = rng.uniform(0, 100, len(labels))
    excluded = np.zeros(len(labels), bool)
    excluded[[0, 1, 2]] = True
    curator = np.full(len(labels), None, dtype=object)
    curator[[3, 4]] = "unusable"
    kw = dict(curator_tiers=curator, excluded=excluded, subclusters=looks)
    a = sm.stratified_sample(emb, labels, scores, sm.SamplingParams(seed=1), **kw)
    b = sm.stratified_sample(emb, labels, scores, sm.SamplingParams(seed=1), **kw)
    assert a.picks == b.picks
    picked = set(a.image_ids())
    assert not picked & {0, 1, 2, 3, 4}
    for c in range(len(SIZES)):
        eligible = int((~excluded & (curator != "unusable") & (labels == c)).sum())
        assert len(a.picks[c]) == min(eligible, 7)
        assert all(labels[i] == c for i in a.picks[c])
    small = np.flatnonzero(labels == 3)
    assert sorted(a.picks[3]) == sorted(small.tolist())  # 3 images < quota 7: all of them
    cov3 = [c for c in a.coverage if c.cluster_id == 3]
    assert sum(c.available for c in cov3) == 3 and sum(c.picked for c in cov3) == 3
    summary = a.tier_summary()
    assert summary["high"]["wanted"] == 3 * len(SIZES)
    assert summary["high"]["picked"] <= summary["high"]["wanted"]
    rows = a.coverage_rows()
    assert {"cluster_id", "tier", "subcluster", "available", "quota", "picked"} <= set(rows[0])
    others = [sm.stratified_sample(emb, labels, scores, sm.SamplingParams(seed=s), **kw).picks
              for s in (2, 3, 4)]
    assert any(o != a.picks for o in others)


def test_propose_seeds_reads_the_project(tmp_path):
    folder, info = build_project(tmp_path)
    with Project.open(folder) as p:
        cur.mark_wrong_identity(p, [5]).apply(p)
        cur.set_tier(p, [6], "unusable").apply(p)
        cur.set_seed_state(p, [7], "rejected").apply(p)
        cur.set_seed_state(p, [8], "approved").apply(p)
        prop = sm.propose_seeds(p, params=sm.SamplingParams(attributes=("pose",)))
        assert prop.params["score_column"] == "quality"
        assert prop.params["score_run_id"] == p.runs("score")[-1].id
        assert not {5, 6, 7} & set(prop.image_ids())
        assert 8 in prop.kept[int(info["clusters"][8])] and 8 not in prop.image_ids()
        assert all(len(k) == 3 and k[2] in ("frontal", "left") for k in prop.strata.values())
        with pytest.raises(UserInputError, match="pose"):
            sm.propose_seeds(p, params=sm.SamplingParams(attributes=("age",)))
        with pytest.raises(UserInputError):
            sm.propose_seeds(p, params=sm.SamplingParams(subcluster_level=0))


def test_quality_falls_back_to_sdd_and_no_run_means_unscored(tmp_path):
    folder, info = build_project(tmp_path, quality=False)
    with Project.open(folder) as p:
        scores, column = sm.quality_column(p, sm.latest_score_run(p))
        assert column == "sdd"
        np.testing.assert_allclose(scores, info["sdd"])
    folder2, _ = build_project(tmp_path / "b", scores=False)
    with Project.open(folder2) as p:
        assert sm.latest_score_run(p) is None
        prop = sm.propose_seeds(p)
        assert {k[0] for k in prop.strata.values()} == {sm.UNSCORED}
        assert all(len(v) == min(2, m) for v, m in zip(
            (prop.picks[c] for c in range(len(SIZES))), SIZES, strict=True))
