"""SDD scoring: W1 against scipy, exact mode, the sampled draws, determinism, similarity sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from fiqa_gui.core.errors import Cancelled, UserInputError
from fiqa_gui.core.progress import CancelToken
from fiqa_gui.core.scoring import sdd as sdd_mod
from fiqa_gui.core.scoring.sdd import build_plan, sdd_scores, similarity_sets
from fiqa_gui.core.scoring.wasserstein import sort_columns_, w1, w1_sorted_cols


def make_data(sizes, d=16, seed=0, noise=0.8, shuffle=True):
    """Clusters of the given sizes: identity vector + noise, rows shuffled."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)]).astype(np.int64)
    if shuffle:
        rng.shuffle(labels)
    centres = rng.normal(size=(len(sizes), d))
    emb = (centres[labels] + noise * rng.normal(size=(len(labels), d))).astype(np.float32)
    return emb, labels


def unit(emb):
    x = emb.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---- batched W1 -----------------------------------------------------------------------------
@pytest.mark.parametrize("p,m", [(24, 24), (1, 24), (7, 24), (24, 5), (13, 31), (100, 37),
                                 (2, 3), (1, 1)])
def test_batched_w1_equals_scipy(p, m):
    rng = np.random.default_rng(p * 100 + m)
    a = rng.normal(size=(40, p))
    b = rng.normal(0.3, 1.5, size=(40, m))
    got = w1(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ref = np.array([wasserstein_distance(a[i], b[i]) for i in range(40)])
    np.testing.assert_allclose(got, ref, atol=1e-12)
    got32 = w1(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(got32, ref, atol=1e-5)


def test_w1_with_ties_and_column_layout():
    a = np.array([[0.0, 0.0, 1.0, 1.0, 1.0]])
    b = np.array([[0.0, 1.0, 1.0]])
    assert float(w1(torch.tensor(a), torch.tensor(b))[0]) == pytest.approx(
        wasserstein_distance(a[0], b[0]), abs=1e-15)
    rng = np.random.default_rng(3)
    ps = np.sort(rng.normal(size=(9, 50)), axis=0)
    ns = np.sort(rng.normal(size=(24, 50)), axis=0)
    got = w1_sorted_cols(torch.from_numpy(ps), torch.from_numpy(ns)).numpy()
    ref = [wasserstein_distance(ps[:, j], ns[:, j]) for j in range(50)]
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 17, 24, 25, 33, 64, 65])
def test_sorting_network_sorts_like_torch(n):
    g = torch.Generator().manual_seed(n)
    v = torch.rand(n, 300, generator=g)
    v[:, :20] = torch.round(v[:, :20] * 3)  # ties
    v[0, 5] = float("inf")
    ref = torch.sort(v, dim=0).values
    assert torch.equal(sort_columns_(v.clone()), ref)


# ---- exact mode -------------------------------------------------------------------------------
SIZES = [1, 2, 3, 5, 25, 26, 30, 40, 70, 8, 12]


def scipy_exact(x, labels, i, neg_rows=None):
    c = labels[i]
    sims = x @ x[i]
    pos = sims[(labels == c) & (np.arange(len(labels)) != i)]
    neg_idx = np.arange(len(labels)) if neg_rows is None else neg_rows
    neg = sims[neg_idx[labels[neg_idx] != c]]
    return wasserstein_distance(pos, neg), np.sign(pos.mean() - neg.mean())


def test_exact_mode_equals_scipy_per_image():
    emb, labels = make_data(SIZES)
    res = sdd_scores(emb, labels, exact=True, device="cpu")
    x = unit(emb)
    for i in range(len(labels)):
        if np.sum(labels == labels[i]) < 2:
            assert np.isnan(res.sdd[i]) and res.singleton[i]
            continue
        ref, sign = scipy_exact(x, labels, i)
        assert abs(res.raw[i, 0] - ref) < 1e-6
        assert res.sdd[i] == pytest.approx(ref, abs=1e-6)
        assert res.sdd_signed[i] == pytest.approx(sign * ref, abs=1e-6)


def test_exact_mode_uses_a_fixed_pool_on_large_data(monkeypatch):
    monkeypatch.setattr(sdd_mod, "EXACT_ALL_MAX", 100)
    monkeypatch.setattr(sdd_mod, "EXACT_POOL", 60)
    emb, labels = make_data([30, 40, 50, 45], seed=2)
    res = sdd_scores(emb, labels, exact=True, device="cpu", seed=5)
    pool = sdd_mod._exact_negatives(labels, 5)
    assert len(pool) == 60
    x = unit(emb)
    for i in range(0, len(labels), 7):
        ref, _ = scipy_exact(x, labels, i, neg_rows=pool)
        assert abs(res.raw[i, 0] - ref) < 1e-6
    again = sdd_scores(emb, labels, exact=True, device="cpu", seed=5)
    np.testing.assert_array_equal(res.raw, again.raw)


# ---- sampled mode: the draws ------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed():
    """Every chunk kind: complete (≤ 25), block, and pool (monkeypatched BLOCK_MAX below)."""
    return make_data([1, 2, 3, 5, 25, 26, 30, 40, 70, 130, 8, 12], seed=1)


@pytest.fixture
def small_block_max(monkeypatch):
    monkeypatch.setattr(sdd_mod, "BLOCK_MAX", 60)
    monkeypatch.setattr(sdd_mod, "CHUNK_ROWS", 64)  # several chunks, and split large clusters


def test_plan_covers_every_non_singleton_once(mixed, small_block_max):
    _, labels = mixed
    plan = build_plan(labels)
    kinds = {ch.kind for ch in plan.chunks}
    assert kinds == {"complete", "block", "pool"}
    sampler = sdd_mod._Sampler(np.zeros((len(labels), 2), np.float32), plan, 0,
                               torch.device("cpu"))
    seen = np.concatenate([sampler.rows(ch) for ch in plan.chunks])
    assert len(seen) == len(set(seen.tolist()))
    non_single = np.flatnonzero(np.bincount(labels)[plan.lab] >= 2)
    assert set(seen.tolist()) == set(non_single.tolist())


def some_rows(labels, per_cluster=4):
    """A few rows of every cluster (all kinds of chunk), deterministic."""
    return np.concatenate([np.flatnonzero(labels == c)[:per_cluster]
                           for c in range(labels.max() + 1)])


def test_draws_respect_the_rules(mixed, small_block_max):
    emb, labels = mixed
    counts = np.bincount(labels)
    x = unit(emb)
    for i in some_rows(labels, 2):
        c = labels[i]
        for k in (0, 12):
            pos, neg, pm, nm = similarity_sets(emb, labels, i, repeat=k, return_members=True)
            # negatives: m distinct images, never the own cluster
            assert len(nm) == 24 and len(set(nm.tolist())) == 24
            assert not np.any(labels[nm] == c)
            np.testing.assert_allclose(np.sort(x[nm] @ x[i]), neg, atol=1e-5)
            if counts[c] < 2:
                assert len(pm) == 0
                continue
            # positives: min(p_max, n-1) distinct other members; complete for n ≤ 25
            assert len(pm) == min(24, counts[c] - 1)
            assert len(set(pm.tolist())) == len(pm) and i not in pm
            assert np.all(labels[pm] == c)
            if counts[c] <= 25:
                assert set(pm.tolist()) == set(np.flatnonzero(labels == c).tolist()) - {i}
            np.testing.assert_allclose(np.sort(x[pm] @ x[i]), pos, atol=1e-5)


def test_similarity_sets_are_the_sets_of_the_run(mixed, small_block_max):
    emb, labels = mixed
    res = sdd_scores(emb, labels, repeats=13, device="cpu", seed=3)
    assert res.raw.shape == (len(labels), 13)
    counts = np.bincount(labels)
    for i in some_rows(labels, 3):
        if counts[labels[i]] < 2:
            assert np.isnan(res.raw[i]).all()
            continue
        for k in (0, 12):
            pos, neg = similarity_sets(emb, labels, i, repeat=k, seed=3)
            assert abs(wasserstein_distance(pos, neg) - res.raw[i, k]) < 1e-5
            assert np.sign(pos.mean() - neg.mean()) == res.sign[i, k]


def test_negatives_uniform_over_images_and_positives_uniform_over_members(small_block_max):
    emb, labels = make_data([40, 10, 20, 80, 50], seed=4)
    counts = np.bincount(labels)
    target = int(np.flatnonzero(labels == 0)[3])
    neg_hits = np.zeros(len(counts))
    pos_hits = np.zeros(len(labels))
    reps = 100
    for k in range(reps):
        _, _, pm, nm = similarity_sets(emb, labels, target, repeat=k, return_members=True)
        np.add.at(neg_hits, labels[nm], 1)
        np.add.at(pos_hits, pm, 1)
    others = counts.copy()
    others[0] = 0
    expected = others / others.sum() * neg_hits.sum()
    chi2 = ((neg_hits[1:] - expected[1:]) ** 2 / expected[1:]).sum()
    assert chi2 < 25  # 4 d.o.f.: p ≈ 5e-5
    members = np.flatnonzero((labels == 0) & (np.arange(len(labels)) != target))
    assert pos_hits[target] == 0
    exp_pos = reps * 24 / len(members)
    assert np.abs(pos_hits[members] - exp_pos).max() < 5 * np.sqrt(exp_pos)


def test_seed_determinism_and_repetitions_prefix(mixed):
    emb, labels = mixed
    a = sdd_scores(emb, labels, device="cpu", seed=11)
    b = sdd_scores(emb, labels, device="cpu", seed=11)
    np.testing.assert_array_equal(a.sdd, b.sdd)
    np.testing.assert_array_equal(a.raw, b.raw)
    c = sdd_scores(emb, labels, device="cpu", seed=12)
    ok = ~np.isnan(a.sdd)
    assert not np.array_equal(a.raw[ok], c.raw[ok])
    # repetition k draws do not depend on how many repetitions run
    short = sdd_scores(emb, labels, repeats=3, device="cpu", seed=11)
    np.testing.assert_allclose(short.raw, a.raw[:, :3], rtol=0, atol=1e-6)


def test_normalisation_ranges_and_singletons(mixed):
    emb, labels = mixed
    res = sdd_scores(emb, labels, device="cpu")
    ok = ~res.singleton
    assert np.isnan(res.sdd[~ok]).all() and np.isnan(res.sdd_signed[~ok]).all()
    assert np.nanmin(res.sdd) >= 0 and np.nanmax(res.sdd) <= 100
    assert np.nanmin(res.sdd_signed) >= -100 and np.nanmax(res.sdd_signed) <= 100
    # signed = mean over k of 100·sign·w/max(w): recompute it from the raw values
    signed = (100 * res.sign * res.raw / np.nanmax(res.raw, axis=0)).mean(axis=1)
    np.testing.assert_allclose(res.sdd_signed[ok], signed[ok], atol=1e-4)
    for k in range(res.raw.shape[1]):  # every repetition spans [0, 100] before the mean
        col = res.raw[ok, k]
        assert col.min() < col.max()
    assert res.n_negatives[ok].min() == 24
    assert res.params["repeats"] == 12 and res.params["seed"] == 0


def test_wrong_identity_image_is_signed_negative():
    emb, labels = make_data([20, 20, 20], d=32, noise=0.3, seed=5)
    planted = int(np.flatnonzero(labels == 0)[0])
    donor = int(np.flatnonzero(labels == 1)[0])
    emb[planted] = emb[donor] + 0.01
    res = sdd_scores(emb, labels, device="cpu")
    assert res.sdd_signed[planted] < 0
    assert (res.sdd_signed[labels == 2] > 0).all()


def test_few_other_images_limits_negatives():
    emb, labels = make_data([30, 10], seed=6)
    res = sdd_scores(emb, labels, device="cpu")
    assert set(res.n_negatives[labels == 0].tolist()) == {10}
    assert set(res.n_negatives[labels == 1].tolist()) == {24}
    i = int(np.flatnonzero(labels == 0)[0])
    pos, neg = similarity_sets(emb, labels, i, repeat=2)
    assert len(neg) == 10 and len(pos) == 24
    assert abs(wasserstein_distance(pos, neg) - res.raw[i, 2]) < 1e-5


def test_input_errors_and_cancel():
    emb, labels = make_data([5, 5])
    with pytest.raises(UserInputError, match="only one cluster"):
        sdd_scores(emb[labels == 0], np.zeros(5, np.int64), device="cpu")
    with pytest.raises(UserInputError, match="one entry per embedding"):
        sdd_scores(emb, labels[:-1], device="cpu")
    bad = emb.copy()
    bad[3, 2] = np.nan
    with pytest.raises(UserInputError, match="row 3"):
        sdd_scores(bad, labels, device="cpu")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        sdd_scores(emb, labels, device="cpu", cancel=token)


def test_memmap_float16_input(tmp_path):
    emb, labels = make_data([12, 30, 7], seed=8)
    path = tmp_path / "e.npy"
    np.save(path, emb.astype(np.float16))
    mm = np.load(path, mmap_mode="r")
    a = sdd_scores(mm, labels, device="cpu")
    b = sdd_scores(emb.astype(np.float16).astype(np.float32), labels, device="cpu")
    np.testing.assert_array_equal(a.sdd, b.sdd)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sdd_on_cuda_matches_cpu(small_block_max):
    emb, labels = make_data([1, 2, 3, 5, 25, 26, 30, 40, 70, 130, 8, 12], seed=1)
    cpu = sdd_scores(emb, labels, device="cpu", seed=2)
    gpu = sdd_scores(emb, labels, device="cuda", seed=2)
    np.testing.assert_allclose(gpu.raw, cpu.raw, atol=1e-5)
    np.testing.assert_allclose(gpu.sdd, cpu.sdd, atol=1e-3)
    again = sdd_scores(emb, labels, device="cuda", seed=2)
    np.testing.assert_array_equal(gpu.raw, again.raw)
    ex_cpu = sdd_scores(emb, labels, device="cpu", exact=True)
    ex_gpu = sdd_scores(emb, labels, device="cuda", exact=True)
    np.testing.assert_allclose(ex_gpu.sdd, ex_cpu.sdd, atol=1e-5)
    i = int(np.flatnonzero(labels == 9)[0])
    pos, neg = similarity_sets(emb, labels, i, repeat=1, seed=2, device="cuda")
    assert abs(wasserstein_distance(pos, neg) - gpu.raw[i, 1]) < 1e-5
