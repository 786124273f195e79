"""CR's nearest-other-centre search: the IVF index is used only where it measured its recall on a
sample, it then finds the true nearest other centre for ≥ 99.5 % of all rows (checked here
against the exact search over every row), and `auto` stays exact where the index cannot prune."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.scoring import nnccs_search
from fiqa_gui.core.scoring.cr import cr_scores


def grouped(n: int, n_clusters: int, dim: int = 64, groups: int = 16, share: float = 0.6,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Identities in look-alike groups (as faces lie by age, sex, ...), images around them."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((groups, dim))
    own = rng.standard_normal((n_clusters, dim))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    ident = np.sqrt(share) * g[rng.integers(groups, size=n_clusters)] + np.sqrt(1 - share) * own
    labels = np.concatenate([np.arange(n_clusters), rng.integers(n_clusters,
                                                                 size=n - n_clusters)])
    x = ident[labels] + rng.standard_normal((n, dim)) * 0.6 / np.sqrt(dim)
    return x.astype(np.float32), labels


def structureless(n: int, n_clusters: int, dim: int = 64, seed: int = 1):
    rng = np.random.default_rng(seed)
    ident = rng.standard_normal((n_clusters, dim))
    labels = np.concatenate([np.arange(n_clusters), rng.integers(n_clusters,
                                                                 size=n - n_clusters)])
    x = ident[labels] / np.sqrt(dim) + rng.standard_normal((n, dim)) * 0.6 / np.sqrt(dim)
    return x.astype(np.float32), labels


@pytest.fixture
def small_limits(monkeypatch):
    """Let the index act on a test-sized problem (the real thresholds are for millions)."""
    monkeypatch.setattr(nnccs_search, "MIN_CENTRES", 64)
    monkeypatch.setattr(nnccs_search, "AUTO_MIN_WORK", 0)
    monkeypatch.setattr(nnccs_search, "SAMPLE_ROWS", 2048)


def test_approx_finds_the_true_nearest_centre_for_almost_every_row(small_limits):
    x, labels = grouped(30000, 1500)
    exact = cr_scores(x, labels, nnccs="exact")
    approx = cr_scores(x, labels, nnccs="approx")
    info = approx.params["nnccs_search"]
    assert info["used"] == "ivf" and info["sample_recall"] >= nnccs_search.SAMPLE_RECALL
    assert info["scanned"] < 0.5  # it pruned: most centres were never compared
    same = (approx.nn_cluster == exact.nn_cluster) | np.isclose(approx.nnccs, exact.nnccs,
                                                                 atol=1e-6, rtol=0)
    assert same.mean() >= 0.995
    # NNCCS is a true cosine of the centre found: never above the exact maximum
    assert np.all(approx.nnccs <= exact.nnccs + 1e-5)
    ok = np.isfinite(exact.cr)
    assert np.max(np.abs(approx.cr[ok] - exact.cr[ok])) < 0.05
    np.testing.assert_allclose(approx.ccs, exact.ccs, atol=0, rtol=0)
    assert exact.params["nnccs_search"]["used"] == "exact"


def test_auto_stays_exact_where_the_index_cannot_prune(small_limits):
    x, labels = structureless(20000, 1000)
    res = cr_scores(x, labels, nnccs="auto")
    info = res.params["nnccs_search"]
    assert info["used"] == "exact" and info["requested"] == "auto"
    assert info["tried"] and "scan" in info["why"]
    ref = cr_scores(x, labels, nnccs="exact")
    np.testing.assert_array_equal(res.nn_cluster, ref.nn_cluster)


def test_auto_uses_the_index_where_it_measured_a_saving(small_limits):
    x, labels = grouped(30000, 1500, seed=3)
    info = cr_scores(x, labels, nnccs="auto").params["nnccs_search"]
    assert info["used"] == "ivf", info
    assert info["scanned"] <= nnccs_search.MAX_SCANNED


def test_auto_is_exact_for_small_problems_without_measuring():
    x, labels = grouped(3000, 200)
    info = cr_scores(x, labels, nnccs="auto").params["nnccs_search"]
    assert info == {**info, "used": "exact"} and "tried" not in info
    assert "fewer than" in info["why"] or "N·C" in info["why"]


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="exact, approx, auto"):
        nnccs_search.without_sample("fast", 10, 10, __import__("torch").device("cpu"))


def test_the_run_says_which_search_it_used(small_limits, tmp_path):
    from fiqa_gui.core.scoring.pipeline import ScoringParams, score_dataset

    x, labels = grouped(6000, 300, seed=5)
    names = [f"id{c}" for c in range(labels.max() + 1)]
    res = score_dataset(x, labels, names, None, ScoringParams(image_cues=False, nnccs="approx",
                                                              repeats=2))
    d = res.params_dict()
    assert d["nnccs"] == "approx" and d["nnccs_search"]["used"] in ("ivf", "exact")
    assert "why" in d["nnccs_search"]


def test_list_scan_returns_the_best_live_other_centre_of_the_probed_lists():
    """The per-list GEMM scan answers exactly what an IVF search means: over the centres of
    the lists faiss's quantizer probes, the best one that is neither the row's own nor dead
    (checked row by row); rows whose probed lists hold none fall back to the exact search."""
    import torch

    from fiqa_gui.core.scoring.cr import CentreIndex

    rng = np.random.default_rng(4)
    centres = rng.standard_normal((600, 32)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    dead = np.array([3, 50, 51, 599])
    nlist = 24
    index = nnccs_search.build_ivf(centres, nlist)
    data = __import__("faiss").serialize_index(index).tobytes()
    cen_t = torch.from_numpy(centres)
    dead_t = torch.from_numpy(dead)
    exact = CentreIndex(cen_t, dead_t)
    ivf = nnccs_search.IVFCentreIndex(data, 2, cen_t, dead_t, exact)
    own = rng.integers(600, size=3000)
    x = centres[own] + 0.3 * rng.standard_normal((3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    top, arg = (v.numpy() for v in ivf.search(torch.from_numpy(x), torch.from_numpy(own)))
    _, probe = index.quantizer.search(x, 2)
    _, home = index.quantizer.search(centres, 1)
    for i in range(len(x)):
        cand = np.flatnonzero(np.isin(home[:, 0], probe[i]))
        cand = cand[(cand != own[i]) & ~np.isin(cand, dead)]
        if len(cand) == 0:
            want_t, want_a = (v.numpy()[0] for v in exact.search(
                torch.from_numpy(x[i:i + 1]), torch.from_numpy(own[i:i + 1])))
        else:
            s = centres[cand] @ x[i]
            want_a, want_t = cand[np.argmax(s)], s.max()
        assert top[i] == pytest.approx(want_t, abs=1e-5)
        assert arg[i] == want_a or abs(centres[arg[i]] @ x[i] - want_t) <= 1e-6
        assert arg[i] != own[i] and arg[i] not in dead
