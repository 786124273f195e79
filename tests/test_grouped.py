"""Per-cluster statistics computed for all clusters at once (`labels.grouped`), against plain
loops over clusters; and `anchored_quality`'s one streaming pass against the per-cluster form of
its formula."""

from __future__ import annotations

import numpy as np

from fiqa_gui.core.labels.anchored import anchored_quality, propose_anchors
from fiqa_gui.core.labels.grouped import Groups
from fiqa_gui.core.labels.ranking import cluster_members, descending_ranks


def _data(seed: int = 0, n: int = 4000, clusters: int = 250, dim: int = 24):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n)
    labels[labels == 7] = 8  # an absent cluster
    labels[0] = clusters + 3  # a singleton after a gap
    x = rng.standard_normal((n, dim)).astype(np.float32)
    v = rng.standard_normal(n)
    v[rng.random(n) < 0.15] = np.nan
    v[:40] = 0.25  # ties
    v[40:44] = [np.inf, -np.inf, np.inf, -np.inf]  # not finite: no median counts them
    return rng, labels, x, v


def test_medians_and_ranks_match_a_loop_over_clusters():
    _, labels, _, v = _data()
    g = Groups(labels)
    med, ranks = g.nanmedian(v), g.descending_ranks(v)
    assert np.isnan(med[7]) and g.size[7] == 0
    for members in cluster_members(labels):
        c = labels[members[0]]
        finite = v[members][np.isfinite(v[members])]
        if len(finite):
            assert med[c] == np.median(finite)
        else:
            assert np.isnan(med[c])
        np.testing.assert_array_equal(ranks[members], descending_ranks(v[members]))
        np.testing.assert_array_equal(g.members(c), members)


def test_unit_sums_and_close_pairs_match_brute_force():
    rng, labels, x, _ = _data(1)
    g = Groups(labels)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref = np.zeros((g.n_clusters, x.shape[1]))
    np.add.at(ref, labels, unit.astype(np.float64))
    np.testing.assert_allclose(g.unit_sums(x), ref, atol=1e-5)
    # plant near-copies in three clusters (one pair just above the threshold)
    for c in (3, 40, 200):
        a, b = np.flatnonzero(labels == c)[:2]
        x[b] = x[a] * 1.7 + rng.standard_normal(x.shape[1]).astype(np.float32) * 0.01
    brute = []
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    for members in cluster_members(labels):
        s = unit[members] @ unit[members].T
        np.fill_diagonal(s, -1)
        if (s >= 0.985).any():
            brute.append(int(labels[members[0]]))
    found = g.close_pairs_clusters(x, 0.985)
    assert set(brute) <= set(found.tolist()) and {3, 40, 200} <= set(found.tolist())


def test_large_clusters_are_checked_in_row_blocks():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(5000, np.int64), np.ones(5000, np.int64)]
    x = rng.standard_normal((10000, 16)).astype(np.float32)
    x[4999] = x[10] * 2  # a copy in the first (large) cluster only
    found = Groups(labels).close_pairs_clusters(x, 0.9999)
    assert found.tolist() == [0]


def _anchored_by_loop(x, labels, anchors):
    """cos(x_i, unit mean of the cluster's anchors without i; a sole anchor: the rest)."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = np.full(len(labels), np.nan)
    for members in cluster_members(labels):
        c = int(labels[members[0]])
        if len(members) < 2 or c not in anchors:
            continue
        a = np.array(anchors[c])
        for i in members:
            if i in a and len(a) == 1:
                centre = unit[members].sum(axis=0) - unit[i]
            else:
                centre = unit[a].sum(axis=0) - (unit[i] if i in a else 0)
            sim[i] = unit[i] @ centre / np.linalg.norm(centre)
    return sim


def test_anchored_quality_matches_the_per_cluster_formula():
    rng, labels, x, v = _data(3)
    suspect = rng.random(len(labels)) < 0.3
    suspect[labels == 11] = True  # a cluster with no eligible image
    strength = np.clip(np.nan_to_num(v, nan=0.5) * 0.2 + 0.5, 0, 1)
    anchors = propose_anchors(labels, strength, suspect)
    for members in cluster_members(labels):
        c = int(labels[members[0]])
        if len(members) < 2:
            assert c not in anchors
            continue
        k = int(np.clip(np.ceil(0.25 * len(members)), 1, 3))
        pool = members[~suspect[members]]
        pool = pool if len(pool) else members
        best = pool[np.argsort(-strength[pool], kind="stable")][:k]
        assert anchors[c] == sorted(best.tolist())
    approved = {20: [int(np.flatnonzero(labels == 20)[0])]}
    res = anchored_quality(x, labels, strength, np.zeros(len(labels)), anchors,
                           approved=approved)
    want = dict(anchors)
    want.update(approved)
    np.testing.assert_allclose(res.anchor_similarity, _anchored_by_loop(x, labels, want),
                               atol=5e-6)
    assert res.anchor_source[20] == "approved"


def test_average_ranks_are_scipys():
    from scipy.stats import rankdata

    from fiqa_gui.core.labels.ranking import average_ranks

    rng = np.random.default_rng(4)
    v = np.round(rng.standard_normal(5000), 1)  # many ties
    np.testing.assert_array_equal(average_ranks(v), rankdata(v, method="average"))
    assert average_ranks(np.array([])).shape == (0,)
