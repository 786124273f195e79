"""The review window's numbers, computed headless (fiqa_gui.core.review)."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.review.clusters import (
    ClusterIndex,
    cluster_summaries,
    showcase_cluster,
    summarize_clusters,
)
from fiqa_gui.core.review.codes import RANKABLE, TIER_HIGH, TIER_LOW, TIER_MID, TIER_NONE
from fiqa_gui.core.review.review_data import load_review, scoring_available
from fiqa_gui.core.review.score_columns import (
    image_scores,
    in_range,
    rank_cluster,
    rankable,
    score_tiers,
)
from fiqa_gui.core.review.similarity import (
    private_embeddings,
    run_similarity_params,
    similarity_picture,
)
from fiqa_gui.core.store import Project
from fiqa_gui.gui.sample_data import build_sample_project


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory):
    return build_sample_project(tmp_path_factory.mktemp("review"), real_scoring=False)


def test_rank_cluster_descending_nan_last_and_stable():
    labels = np.array([0, 1, 0, 0, 0, 1, 0])
    sdd = np.array([5.0, 9.0, np.nan, 7.0, 5.0, 1.0, 8.0])
    order = rank_cluster({"sdd": sdd}, labels, 0, "sdd", descending=True)
    assert order.tolist() == [6, 3, 0, 4, 2]  # ties (0, 4) keep id order, NaN last
    order = rank_cluster({"sdd": sdd}, labels, 0, "sdd", descending=False)
    assert order.tolist() == [0, 4, 3, 6, 2]  # NaN last ascending too
    assert rank_cluster({"sdd": sdd}, labels, 1, "sdd").tolist() == [1, 5]


def test_rank_cluster_with_members_matches_label_scan():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 50, 2000)
    scores = {"cr": rng.normal(size=2000)}
    scores["cr"][rng.integers(0, 2000, 100)] = np.nan
    index = ClusterIndex(labels, 50)
    for c in range(50):
        assert np.array_equal(
            rank_cluster(scores, labels, c, "cr"),
            rank_cluster(scores, labels, c, "cr", members=index.members(c)))
        assert np.array_equal(index.members(c), np.flatnonzero(labels == c))


def test_rank_cluster_unknown_score():
    with pytest.raises(KeyError):
        rank_cluster({"sdd": np.zeros(2)}, np.zeros(2, int), 0, "nope")


def test_rankable_adds_quality_only_when_present():
    assert rankable(None) == RANKABLE
    assert rankable({"sdd": np.ones(3), "quality": np.full(3, np.nan)}) == RANKABLE
    assert rankable({"sdd": np.ones(3), "quality": np.array([np.nan, 1, 2])}) == (
        "quality", *RANKABLE)


def test_score_tiers_terciles_and_nan():
    values = np.array([0, 1, 2, 3, 4, 5, np.nan, 6, 7, 8], dtype=float)
    tiers = score_tiers(values)
    assert tiers[6] == TIER_NONE
    assert set(tiers[[0, 1, 2]]) == {TIER_LOW}
    assert set(tiers[[7, 8, 9]]) == {TIER_HIGH}
    assert TIER_MID in tiers
    assert (score_tiers(np.full(4, np.nan)) == TIER_NONE).all()


def test_in_range_excludes_nan():
    assert in_range(np.array([1.0, np.nan, 3.0, 5.0]), 1, 3).tolist() == [True, False, True,
                                                                            False]


def test_summaries_from_arrays():
    labels = np.array([0, 0, 1, 1, 1, 2])
    scores = {"sdd": np.array([10, 20, np.nan, 40, 50, np.nan]),
              "cr": np.array([0.1, 0.3, 0.2, 0.2, 0.2, np.nan]),
              "flags": [[], ["identity_suspect"], [], ["near_duplicate", "x"], [],
                        ["singleton"]]}
    s = summarize_clusters(labels, ["a", "b", "c"], ["unreviewed"] * 3, scores)
    assert len(s) == 3
    assert s.sizes.tolist() == [2, 3, 1]
    assert s.mean_sdd[0] == 15 and s.mean_sdd[1] == 45 and np.isnan(s.mean_sdd[2])
    assert s.mean_cr[0] == pytest.approx(0.2)
    assert s[1].flags == ("near_duplicate", "x") and s[1].flagged == 1
    assert s[2].flags == ("singleton",)
    assert [r.name for r in s] == ["a", "b", "c"]
    assert s.flag_names() == ["identity_suspect", "near_duplicate", "singleton", "x"]
    unscored = summarize_clusters(labels, ["a", "b", "c"], ["unreviewed"] * 3, None)
    assert np.isnan(unscored.mean_sdd).all() and unscored.flagged.sum() == 0


def test_cluster_summaries_of_a_project(sample_project):
    with Project.open(sample_project) as project:
        run = project.latest_run()
        s = cluster_summaries(project, run.id)
        scores = project.scores(run.id)
        ds = project.dataset()
        assert [r.name for r in s] == ds.cluster_names
        assert s.sizes.tolist() == ds.cluster_sizes.tolist()
        for c in range(len(s)):
            member = ds.labels == c
            sdd = scores["sdd"][member]
            expected = np.nanmean(sdd) if np.isfinite(sdd).any() else np.nan
            np.testing.assert_allclose(s.mean_sdd[c], expected, equal_nan=True)
            assert s.review_state[c] == "unreviewed"
        none = cluster_summaries(project, None)
        assert np.isnan(none.mean_sdd).all()


def test_showcase_cluster_prefers_flagged_then_large():
    labels = np.repeat(np.arange(3), [20, 30, 15])
    flags = [[] for _ in labels]
    flags[0] = ["identity_suspect"]
    s = summarize_clusters(labels, list("abc"), ["unreviewed"] * 3,
                           {"sdd": np.zeros(len(labels)), "cr": np.zeros(len(labels)),
                            "flags": flags})
    assert showcase_cluster(s) == 0
    s2 = summarize_clusters(labels, list("abc"), ["unreviewed"] * 3, None)
    assert showcase_cluster(s2) == 1


def test_load_review(sample_project):
    rv = load_review(sample_project)
    try:
        assert rv.run is not None and rv.scores is not None
        assert rv.n_images == len(rv.labels) == len(rv.dataset)
        c = int(np.argmax(rv.summaries.sizes))
        ranked = rv.rank(c, "sdd")
        assert np.array_equal(ranked, rank_cluster(rv.scores, rv.labels, c, "sdd"))
        assert rv.tiers("sdd").shape == (rv.n_images,)
        names = rv.score_names
        assert names[:3] == ["sdd", "cr", "iq"] and "quality" not in names  # all-NaN column
        values = dict(image_scores(rv.scores, int(ranked[0]), names))
        assert values["sdd"] == rv.scores["sdd"][ranked[0]]
    finally:
        rv.close()


def test_load_review_of_unscored_project(tmp_path):
    folder = build_sample_project(tmp_path, sizes=(3, 2), score=False)
    rv = load_review(folder)
    try:
        assert rv.run is None and rv.scores is None
        assert rv.rank(0, "sdd").tolist() == [0, 1, 2]  # file order
        assert (rv.tiers("sdd") == TIER_NONE).all()
    finally:
        rv.close()


def test_similarity_picture_uses_the_runs_parameters(monkeypatch):
    calls = {}

    def fake_sets(embeddings, labels, index, *, seed, repeat=0, positives=24, negatives=24,
                  exact=False):
        calls.update(seed=seed, repeat=repeat, positives=positives, negatives=negatives,
                     exact=exact, index=index)
        return np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.0, -0.1])

    sdd_module = pytest.importorskip("fiqa_gui.core.scoring.sdd") \
        if scoring_available() else None
    if sdd_module is None:
        import sys
        import types

        sdd_module = types.ModuleType("fiqa_gui.core.scoring.sdd")
        monkeypatch.setitem(sys.modules, "fiqa_gui.core.scoring.sdd", sdd_module)
        pkg = sys.modules.get("fiqa_gui.core.scoring") or types.ModuleType(
            "fiqa_gui.core.scoring")
        monkeypatch.setitem(sys.modules, "fiqa_gui.core.scoring", pkg)
    monkeypatch.setattr(sdd_module, "similarity_sets", fake_sets, raising=False)
    pic = similarity_picture(np.zeros((4, 2)), np.array([0, 0, 1, 1]), 1,
                                    {"seed": 7, "positives": 5, "negatives": 6, "exact": False},
                                    repeat=2)
    assert calls == {"seed": 7, "repeat": 2, "positives": 5, "negatives": 6, "exact": False,
                     "index": 1}
    assert pic.w1 == pytest.approx(0.8)  # equal sizes: mean |sorted(P) - sorted(N)|
    assert pic.pos_mean == pytest.approx(0.8) and pic.neg_mean == pytest.approx(0.0)


def test_similarity_picture_matches_scoring_module(sample_project):
    pytest.importorskip("fiqa_gui.core.scoring.sdd")
    from scipy.stats import wasserstein_distance

    from fiqa_gui.core.scoring.sdd import similarity_sets

    rv = load_review(sample_project)
    try:
        path = rv.project.embeddings_path()
        params = rv.run.params
        kw = run_similarity_params(params)
        pic = similarity_picture(private_embeddings(path), rv.labels, 3, params,
                                        repeat=1)
        pos, neg = similarity_sets(private_embeddings(path), rv.labels, 3, repeat=1, **kw)
        np.testing.assert_array_equal(pic.pos, np.asarray(pos, float).ravel())
        np.testing.assert_array_equal(pic.neg, np.asarray(neg, float).ravel())
        assert pic.w1 == pytest.approx(wasserstein_distance(pos, neg))
    finally:
        rv.close()


def test_showcase_cluster_matches_its_definition_with_ties():
    """Array-wise, the same pick as the definition: max (flagged / size, size), the first such
    cluster on ties — over many clusters of equal sizes and flag counts."""
    rng = np.random.default_rng(8)
    sizes = rng.choice([6, 12, 20, 24], 400)
    labels = np.repeat(np.arange(400), sizes)
    flags = [["identity_suspect"] if u < 0.25 else [] for u in rng.random(len(labels))]
    s = summarize_clusters(labels, [f"c{i:03d}" for i in range(400)], ["unreviewed"] * 400,
                           {"sdd": np.zeros(len(labels)), "cr": np.zeros(len(labels)),
                            "flags": flags})
    for min_size in (1, 12, 24):
        cand = [i for i in range(len(s)) if s.flagged[i] > 0 and s.sizes[i] >= min_size]
        want = max(cand, key=lambda i: (s.flagged[i] / s.sizes[i], s.sizes[i]))
        assert showcase_cluster(s, min_size) == want
