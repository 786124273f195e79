"""Flags and the anchored `quality` on small constructed embeddings with known structure."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.labels.anchored import anchored_quality, propose_anchors
from fiqa_gui.core.labels.diagnostics import diagnose
from fiqa_gui.core.labels.quality_cues import (
    low_information_similarity,
    model_free_quality,
    normalised_mean_direction,
    percentile_rank,
)

D = 64


def unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def world(seed=0):
    """Clusters built from identity directions, a shared 'degraded' direction m and noise.

    x = a·identity + (1−a)·m + noise with a = 1 for clean images and a = 0.55 for poor ones, so
    poor images of every identity drift toward m (as SPEC §5 describes real models doing).
    """
    rng = np.random.default_rng(seed)
    m = unit(rng.normal(size=D))
    rows, labels, good = [], [], []

    def add(cluster, ident, a, noise=0.25):
        rows.append(unit(a * ident + (1 - a) * 1.6 * m + noise * rng.normal(size=D) / np.sqrt(D)))
        labels.append(cluster)

    idents = unit(rng.normal(size=(12, D)))
    for c in range(4):                       # clean clusters 0-3
        for _ in range(8):
            add(c, idents[c], 1.0)
    for c in range(4, 7):                    # consistently degraded clusters 4-6
        for _ in range(8):
            add(c, idents[c], 0.55, noise=0.1)
    for c in range(7, 10):                   # one good + six mutually similar poor: 7-9
        good.append(len(rows))
        add(c, idents[c], 1.0)
        for _ in range(6):
            add(c, idents[c], 0.55, noise=0.1)
    add(10, idents[10], 1.0)                 # a singleton
    for _ in range(5):                       # cluster 11 holds an intruder of identity 0
        add(11, idents[11], 1.0)
    intruder = len(rows)
    add(11, idents[0], 1.0)
    x = np.array(rows, dtype=np.float32)
    return x, np.array(labels), np.array(good), intruder


def cr_parts(x, labels):
    c = labels.max() + 1
    sums = np.zeros((c, x.shape[1]))
    np.add.at(sums, labels, x)
    loo = sums[labels] - x
    norms = np.linalg.norm(loo, axis=1)
    ccs = np.where(norms > 1e-9, np.einsum("ij,ij->i", x, loo) / np.maximum(norms, 1e-9),
                   np.nan)
    cent = unit(sums)
    sims = x @ cent.T
    sims[np.arange(len(x)), labels] = -np.inf
    nnccs = sims.max(axis=1)
    return ccs, nnccs, ccs / (nnccs + 1 + 1e-9)


def exact_sdd(x, labels):
    from scipy.stats import wasserstein_distance

    s = x @ x.T
    sdd = np.full(len(x), np.nan)
    signed = np.full(len(x), np.nan)
    for i in range(len(x)):
        same = labels == labels[i]
        same[i] = False
        if same.any():
            p, n = s[i, same], s[i, labels != labels[i]]
            sdd[i] = wasserstein_distance(p, n)
            signed[i] = np.sign(p.mean() - n.mean()) * sdd[i]
    return sdd, signed


@pytest.fixture(scope="module")
def scored():
    x, labels, good, intruder = world()
    ccs, nnccs, cr = cr_parts(x, labels)
    sdd, signed = exact_sdd(x, labels)
    low = low_information_similarity(x)
    strength = model_free_quality(low)
    diag = diagnose(x, labels, strength=strength, sdd=sdd, sdd_signed=signed, cr=cr, ccs=ccs,
                    nnccs=nnccs)
    return dict(x=x, labels=labels, good=good, intruder=intruder, ccs=ccs, nnccs=nnccs, cr=cr,
                sdd=sdd, signed=signed, low=low, strength=strength, diag=diag)


def test_mean_direction_and_low_information_cue(scored):
    x = scored["x"]
    m = normalised_mean_direction(x)
    assert np.isclose(np.linalg.norm(m), 1)
    low = scored["low"]
    labels = scored["labels"]
    assert low[labels >= 4][:24].mean() > low[labels < 4].mean() + 0.2  # poor sit nearer m


def test_percentile_rank_and_model_free_quality():
    r = percentile_rank(np.array([3.0, np.nan, 1.0, 2.0]))
    assert np.allclose(r[[0, 2, 3]], [1, 1 / 3, 2 / 3]) and np.isnan(r[1])
    q = model_free_quality(np.array([0.1, 0.5]), np.array([np.nan, np.nan]))
    assert q[0] > q[1]  # iq all NaN: the embedding cue alone decides
    q2 = model_free_quality(np.array([0.1, 0.5, 0.3]), np.array([10.0, 90.0, 50.0]))
    assert np.allclose(q2, [2 / 3, 2 / 3, 2 / 3])  # the cues disagree completely


def test_consistency_trap_on_degraded_clusters_only(scored):
    flagged = {c for c, f in scored["diag"].cluster_flags.items() if "consistency_trap" in f}
    assert {4, 5, 6} <= flagged
    assert not flagged & {0, 1, 2, 3, 11}
    detail = next(d for d in scored["diag"].details if d.flag == "consistency_trap")
    assert "consistent is not the same as good" in detail.explanation
    # the rule is on the absolute poorness scale (was: cohesion above the median cluster's)
    assert detail.numbers["embedding_poorness"] >= 0.5
    assert f"{detail.numbers['embedding_poorness']:.0%}" in detail.explanation


def test_score_shift_flags_the_good_image(scored):
    diag, good = scored["diag"], scored["good"]
    for g in good:
        assert "score_shift" in diag.image_flags[g]
        assert "score_shift" in diag.cluster_flags[int(scored["labels"][g])]
    poor = [i for i in range(len(scored["labels"])) if scored["labels"][i] in (7, 8, 9)
            and i not in good]
    assert not any("score_shift" in diag.image_flags[i] for i in poor)
    # the defect is real on this data: SDD ranks each good image below its poor neighbours
    for g in good:
        members = np.flatnonzero(scored["labels"] == scored["labels"][g])
        assert scored["sdd"][g] < np.median(scored["sdd"][members])


def test_identity_suspect_and_singleton(scored):
    diag = scored["diag"]
    assert "identity_suspect" in diag.image_flags[scored["intruder"]]
    singleton = int(np.flatnonzero(scored["labels"] == 10)[0])
    assert "singleton" in diag.image_flags[singleton]
    clean = np.flatnonzero(scored["labels"] < 4)
    assert not any("identity_suspect" in diag.image_flags[i] for i in clean)


def test_near_duplicates_grouped():
    rng = np.random.default_rng(1)
    base = unit(rng.normal(size=(6, D)))
    x = np.vstack([base, unit(base[[0, 0, 3]] + 0.01 * rng.normal(size=(3, D)))])
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 0, 1])
    n = len(x)
    nan = np.full(n, np.nan)
    diag = diagnose(x, labels, strength=np.full(n, 0.5), sdd=nan, sdd_signed=nan, cr=nan,
                    ccs=nan, nnccs=nan)
    g = diag.near_dup_group
    assert g[0] == g[6] == g[7] >= 0 and g[3] == g[8] >= 0 and g[0] != g[3]
    assert (g[[1, 2, 4, 5]] == -1).all()
    assert all("near_duplicate" in diag.image_flags[i] for i in (0, 6, 7, 3, 8))


def test_low_iq_and_row_flags_carry_cluster_flags(scored):
    n = len(scored["labels"])
    iq = np.full(n, 80.0)
    iq[0] = 12.0
    diag = diagnose(scored["x"], scored["labels"], strength=scored["strength"],
                    sdd=scored["sdd"], sdd_signed=scored["signed"], cr=scored["cr"],
                    ccs=scored["ccs"], nnccs=scored["nnccs"], iq=iq)
    assert "low_iq" in diag.image_flags[0] and "low_iq" not in diag.image_flags[1]
    rows = diag.row_flags(scored["labels"])
    trap_row = int(np.flatnonzero(scored["labels"] == 4)[0])
    assert "consistency_trap" in rows[trap_row]
    g = int(scored["good"][0])
    assert "score_shift" in rows[g] and "cluster_score_shift" in rows[g]


def test_quality_ranks_the_good_image_first(scored):
    labels, good = scored["labels"], scored["good"]
    suspect = np.array(["identity_suspect" in f for f in scored["diag"].image_flags])
    anchors = propose_anchors(labels, scored["strength"], suspect)
    res = anchored_quality(scored["x"], labels, scored["strength"], scored["nnccs"], anchors)
    for g in good:
        members = np.flatnonzero(labels == labels[g])
        assert members[np.nanargmax(res.quality[members])] == g
        assert g in anchors[int(labels[g])]
    # consistently degraded clusters no longer look excellent
    assert np.nanmean(res.quality[np.isin(labels, [4, 5, 6])]) < \
        np.nanmean(res.quality[labels < 4]) - 30
    # the intruder is never an anchor and gets a low quality
    assert scored["intruder"] not in anchors[11]
    assert res.quality[scored["intruder"]] < 10
    assert np.isnan(res.quality[labels == 10]).all()  # singleton


def test_approved_seeds_change_quality_exactly_in_their_cluster(scored):
    labels = scored["labels"]
    suspect = np.array(["identity_suspect" in f for f in scored["diag"].image_flags])
    anchors = propose_anchors(labels, scored["strength"], suspect)
    base = anchored_quality(scored["x"], labels, scored["strength"], scored["nnccs"], anchors)
    members = np.flatnonzero(labels == 2)
    chosen = [int(i) for i in members if i not in anchors[2]][:2]
    seeded = anchored_quality(scored["x"], labels, scored["strength"], scored["nnccs"],
                              anchors, approved={2: chosen})
    both_nan = np.isnan(base.quality) & np.isnan(seeded.quality)
    changed = ~((base.quality == seeded.quality) | both_nan)
    assert changed[members].all()
    assert not changed[labels != 2].any()
    assert seeded.anchor_source[2] == "approved" and seeded.anchor_source[0] == "proposed"
