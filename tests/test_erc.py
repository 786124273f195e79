"""The ERC protocol against a brute-force, pair-by-pair version; its behaviour on qualities with
known answers; pair sampling; the identity bootstrap; the label sources of a project."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.evaluation.erc import (
    REJECT_FRACTIONS,
    ErcEngine,
    bootstrap_weights,
    compute_erc,
)
from fiqa_gui.core.evaluation.evaluate import evaluate_arrays, evaluate_project
from fiqa_gui.core.evaluation.label_sources import curated_quality, project_sources
from fiqa_gui.core.evaluation.pairs import PairSet, build_pairs, pair_counts


# ----------------------------------------------------------------------------- brute force
def brute_force_erc(emb, labels, quality, fmr, variant="fixed"):
    """The protocol of issue #15 written out pair by pair with Python lists and exact
    fractions: (fnmr per reject fraction, threshold per fraction, auc)."""
    n = len(labels)
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            s = float(np.dot(emb[i], emb[j]) / (np.linalg.norm(emb[i]) * np.linalg.norm(emb[j])))
            qi = -math.inf if math.isnan(quality[i]) else float(quality[i])
            qj = -math.inf if math.isnan(quality[j]) else float(quality[j])
            pairs.append((s, labels[i] == labels[j], min(qi, qj)))

    def threshold(kept):
        imp = sorted((s for s, g, _ in kept if not g), reverse=True)
        k = max(math.floor(Fraction(repr(fmr)) * len(imp)), 1)
        return imp[k - 1]

    fixed = threshold(pairs)
    qs = sorted(q for _, _, q in pairs)
    fnmrs, thrs = [], []
    for step in range(20):
        if step == 0:
            kept = pairs
        else:
            cut = qs[math.floor(Fraction(step, 20) * len(pairs))]
            kept = [p for p in pairs if p[2] >= cut]
        thr = fixed if variant == "fixed" else threshold(kept)
        genuine = [s for s, g, _ in kept if g]
        fnmrs.append(sum(1 for s in genuine if s <= thr) / len(genuine))
        thrs.append(thr)
    auc = sum((fnmrs[k] + fnmrs[k + 1]) / 2 * 0.05 for k in range(19))
    return np.array(fnmrs), np.array(thrs), auc


def toy_data(seed=0, clusters=12, per=11, dim=16):
    """Clusters of uneven quality with noisy embeddings: many false non-matches, quality ties
    (rounded values) and NaN qualities, so the ordering rules matter."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(clusters), per)[: clusters * per - 5]  # uneven last cluster
    q = rng.random(len(labels))
    centres = rng.normal(size=(clusters, dim))
    emb = centres[labels] * (0.3 + 1.5 * q[:, None]) + rng.normal(size=(len(labels), dim))
    quality = np.round(q + rng.normal(0, 0.15, len(q)), 1)  # informative, with many ties
    quality[rng.choice(len(q), 6, replace=False)] = np.nan
    return emb, labels, quality


@pytest.mark.parametrize("variant", ["fixed", "rederived"])
@pytest.mark.parametrize("fmr", [1e-2, 3e-2, 1e-3])
def test_matches_brute_force(variant, fmr):
    emb, labels, quality = toy_data()
    result = evaluate_arrays(emb, labels, {"q": quality}, fmrs=(fmr,), variant=variant)
    curve = result.curve("q", fmr)
    fnmr, thr, auc = brute_force_erc(emb, labels, quality, fmr, variant)
    np.testing.assert_allclose(curve.fnmr, fnmr, rtol=0, atol=1e-9)
    np.testing.assert_allclose(curve.thresholds, thr, rtol=0, atol=1e-9)
    assert abs(curve.auc - auc) <= 1e-9
    assert np.ptp(fnmr) > 0.05  # the curve moves: the comparison is not of two flat lines
    g, i = pair_counts(labels)
    assert (result.genuine_pairs, result.impostor_pairs) == (g, i)


def test_random_source_matches_brute_force_on_other_seed():
    emb, labels, _ = toy_data(seed=3, clusters=9, per=14)
    q = np.random.default_rng(5).random(len(labels))
    result = evaluate_arrays(emb, labels, {"r": q}, fmrs=(2e-2,))
    fnmr, _, auc = brute_force_erc(emb, labels, q, 2e-2)
    np.testing.assert_allclose(result.curves[0].fnmr, fnmr, rtol=0, atol=1e-9)
    assert abs(result.curves[0].auc - auc) <= 1e-9


def _expanded(pairs: PairSet, w: np.ndarray) -> PairSet:
    k = np.repeat(np.arange(len(pairs)), w.astype(int))
    return PairSet(a=pairs.a[k], b=pairs.b[k], score=pairs.score[k], genuine=pairs.genuine[k],
                   cluster_a=pairs.cluster_a[k], cluster_b=pairs.cluster_b[k],
                   weight=np.ones(len(k)), n_clusters=pairs.n_clusters,
                   n_images=pairs.n_images)


@pytest.mark.parametrize("variant", ["fixed", "rederived"])
def test_bootstrap_weights_equal_duplicated_pairs(variant):
    """A replicate's weights give exactly the curve of the pairs physically repeated that
    many times — the weighted counts are the protocol on the resampled identities."""
    emb, labels, quality = toy_data(seed=1)
    pairs = build_pairs(emb, labels)
    w = bootstrap_weights(pairs, np.random.default_rng(7))
    assert set(np.unique(w)) - {0.0} and (w == 0).any()  # some identities drawn 0, some twice+
    weighted = ErcEngine(pairs, {"q": quality}, (2e-2,), variant).curves(w)
    plain = ErcEngine(_expanded(pairs, w), {"q": quality}, (2e-2,), variant).curves()
    for key in plain:
        np.testing.assert_allclose(weighted[key][0], plain[key][0], atol=1e-12)
        np.testing.assert_allclose(weighted[key][1], plain[key][1], atol=1e-12)


def test_bootstrap_interval_brackets_and_is_seeded():
    emb, labels, quality = toy_data(seed=2, clusters=20, per=8)
    a = evaluate_arrays(emb, labels, {"q": quality}, fmrs=(1e-2,), bootstrap=60, seed=4)
    b = evaluate_arrays(emb, labels, {"q": quality}, fmrs=(1e-2,), bootstrap=60, seed=4)
    c = a.curves[0]
    lo, hi = c.auc_interval
    assert lo < hi and lo - 0.02 <= c.auc <= hi + 0.02
    assert b.curves[0].auc_interval == c.auc_interval
    assert np.all(c.fnmr_low <= c.fnmr_high)


# ----------------------------------------------------------------------------- known answers
def separable_data(seed=0, clusters=40, per=12, bad_share=0.15, dim=32):
    """Good images sit near their cluster centre, bad ones anywhere: only pairs with a bad
    image can fail."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(clusters), per)
    bad = rng.random(len(labels)) < bad_share
    centres = rng.normal(size=(clusters, dim))
    emb = centres[labels] + rng.normal(0, 0.15, (len(labels), dim))
    emb[bad] = rng.normal(size=(bad.sum(), dim))
    return emb, labels, bad


def test_perfect_quality_reaches_zero_at_the_matching_fraction():
    emb, labels, bad = separable_data()
    rng = np.random.default_rng(1)
    q = np.where(bad, rng.uniform(0, 0.1, len(bad)), rng.uniform(0.5, 1, len(bad)))
    result = evaluate_arrays(emb, labels, {"perfect": q}, fmrs=(1e-3,))
    curve = result.curve("perfect", 1e-3)
    pairs = build_pairs(emb, labels)
    thr = curve.threshold
    with_bad = bad[pairs.a] | bad[pairs.b]
    failing = pairs.genuine & (pairs.score <= thr)
    assert failing.sum() > 20 and with_bad[failing].all()  # the premise: bad pairs fail
    # the first fraction whose cut passes every pair holding a bad image
    n_bad_pairs, n_pairs = int(with_bad.sum()), len(pairs)
    first = next(k for k, r in enumerate(REJECT_FRACTIONS)
                 if math.floor(Fraction(k, 20) * n_pairs) >= n_bad_pairs)
    assert curve.fnmr[0] > 0.05
    assert curve.fnmr[first] == 0.0 and np.all(curve.fnmr[first:] == 0.0)
    assert curve.fnmr[first - 1] > 0.0


def test_random_quality_gives_a_flat_curve():
    emb, labels, bad = separable_data(seed=2, clusters=60, per=14)
    q_random = np.random.default_rng(9).random(len(labels))
    q_good = np.where(bad, 0.0, 1.0) + np.random.default_rng(3).random(len(labels)) * 0.1
    result = evaluate_arrays(emb, labels, {"random": q_random, "good": q_good}, fmrs=(1e-3,))
    rnd = result.curve("random", 1e-3)
    p0 = rnd.fnmr[0]
    # binomial noise of the FNMR of the genuine pairs kept, four standard deviations
    tol = 4 * np.sqrt(p0 * (1 - p0) / rnd.genuine_kept)
    assert np.all(np.abs(rnd.fnmr - p0) <= tol)
    assert np.all(tol < 0.12)
    # an informative quality on the same pairs is far from flat (the test can fail)
    good = result.curve("good", 1e-3)
    assert good.fnmr[-1] < p0 - 2 * tol[-1] and good.fnmr[-1] < p0 / 4
    assert good.auc < rnd.auc


def test_fmr_below_resolution_is_refused():
    emb, labels, quality = toy_data()
    n_imp = pair_counts(labels)[1]
    with pytest.raises(UserInputError, match="cannot be resolved") as err:
        evaluate_arrays(emb, labels, {"q": quality}, fmrs=(1e-2, 0.5 / n_imp))
    assert str(n_imp) in str(err.value)
    evaluate_arrays(emb, labels, {"q": quality}, fmrs=(1.0 / n_imp,))  # exactly 1/#: fine
    with pytest.raises(UserInputError, match="between 0 and 1"):
        evaluate_arrays(emb, labels, {"q": quality}, fmrs=(1.5,))


def test_one_cluster_and_singletons_are_refused():
    emb = np.random.default_rng(0).normal(size=(6, 4))
    with pytest.raises(UserInputError, match="only one cluster"):
        evaluate_arrays(emb, np.zeros(6, int), {"q": np.ones(6)}, fmrs=(0.5,))
    with pytest.raises(UserInputError, match="single image"):
        evaluate_arrays(emb, np.arange(6), {"q": np.ones(6)}, fmrs=(0.5,))
    with pytest.raises(UserInputError, match="5 values for 6 images"):
        evaluate_arrays(emb, np.array([0, 0, 1, 1, 2, 2]), {"q": np.ones(5)}, fmrs=(0.5,))


# ----------------------------------------------------------------------------- sampling
def test_sampling_above_the_cap_is_seeded_recorded_and_close():
    emb, labels, bad = separable_data(seed=4, clusters=50, per=10)
    q = np.where(bad, 0.0, 1.0) + np.random.default_rng(0).random(len(labels))
    full = evaluate_arrays(emb, labels, {"q": q}, fmrs=(1e-2,))
    g, i = pair_counts(labels)
    cap = (g + i) // 3
    s1 = evaluate_arrays(emb, labels, {"q": q}, fmrs=(1e-2,), max_pairs=cap, seed=5)
    s2 = evaluate_arrays(emb, labels, {"q": q}, fmrs=(1e-2,), max_pairs=cap, seed=5)
    rec = s1.sampling
    assert full.sampling["method"] == "all pairs"
    assert rec["seed"] == 5 and rec["pairs"] == cap
    assert rec["genuine_used"] == g  # every genuine pair fits into half the budget
    assert rec["impostor_used"] == cap - g and rec["impostor_total"] == i
    np.testing.assert_array_equal(s1.curves[0].fnmr, s2.curves[0].fnmr)
    assert abs(s1.curves[0].auc - full.curves[0].auc) < 0.02
    pairs = build_pairs(emb, labels, max_pairs=cap, seed=5)
    keys = pairs.a * len(labels) + pairs.b
    assert len(np.unique(keys)) == len(keys) and np.all(pairs.a < pairs.b)
    # genuine pairs sampled too when they exceed half the budget
    small = build_pairs(emb, labels, max_pairs=g, seed=1)
    assert small.genuine_pairs == g // 2 and small.impostor_pairs == g - g // 2
    assert np.allclose(small.weight[small.genuine].sum(), g)
    assert np.allclose(small.weight[~small.genuine].sum(), i)


def test_compute_erc_reports_curves_in_order():
    emb, labels, quality = toy_data()
    pairs = build_pairs(emb, labels)
    r = compute_erc(pairs, {"a": quality, "b": -np.nan_to_num(quality)}, (1e-2, 3e-2))
    assert r.sources == ["a", "b"] and r.fmrs == [1e-2, 3e-2]
    assert len(r.curves) == 4 and r.curve("b", 3e-2).source == "b"


# ----------------------------------------------------------------------------- project sources
def test_project_sources_and_curated_label(sample_project):
    from fiqa_gui.core.curation.commands import set_corrected_score, set_tier
    from fiqa_gui.core.store import Project

    with Project.open(sample_project) as project:
        run = project.latest_run("score").id
        set_corrected_score(project, [0, 2], 42.0).apply(project)
        set_tier(project, [1, 2], "low").apply(project)
        set_corrected_score(project, [2], 7.0).apply(project)
        scores = project.scores(run)
        curated = curated_quality(project, run)
        assert curated[0] == 42.0 and curated[1] == 15.0 and curated[2] == 7.0
        expected_rest = np.where(np.isfinite(scores["quality"]), scores["quality"],
                                 scores["sdd"])[3:]
        np.testing.assert_array_equal(curated[3:], expected_rest)
        src = project_sources(project, ["sdd", f"cr@{run}", "random", "curated"], run_id=run,
                              seed=3)
        np.testing.assert_array_equal(src["sdd"], scores["sdd"])
        np.testing.assert_array_equal(src[f"cr@{run}"], scores["cr"])
        again = project_sources(project, ["random"], run_id=run, seed=3)["random"]
        np.testing.assert_array_equal(src["random"], again)
        with pytest.raises(UserInputError, match="unknown label source 'nope'"):
            project_sources(project, ["nope"], run_id=run)
        with pytest.raises(UserInputError, match="run 99 does not exist"):
            project_sources(project, ["sdd@99"], run_id=run)
        result = evaluate_project(project, "sdd,cr,quality,curated,random", fmrs=(1e-2,))
        assert result.info["run_id"] == run
        assert result.sources == ["sdd", "cr", "quality", "curated", "random"]


def test_sampling_just_above_the_cap_enumerates():
    """A budget near the total picks a subset of the enumerated pairs (no slow rejection)."""
    emb, labels, _ = separable_data(seed=6, clusters=30, per=10)
    g, i = pair_counts(labels)
    pairs = build_pairs(emb, labels, max_pairs=g + i - 7, seed=2)
    assert pairs.genuine_pairs == g and pairs.impostor_pairs == i - 7
    keys = pairs.a * len(labels) + pairs.b
    assert len(np.unique(keys)) == len(keys)
    tight = build_pairs(emb, labels, max_pairs=int(g * 1.5), seed=2)  # genuine: 3/4 of all
    assert tight.genuine_pairs == int(g * 1.5) // 2
    assert np.all(labels[tight.a[tight.genuine]] == labels[tight.b[tight.genuine]])
