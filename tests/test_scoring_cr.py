"""CR scoring: the paper formula against numpy, head files, the exact nearest-centre search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.scoring.cr import CR_EPS, cr_scores, load_head, nearest_other_centre


def make_data(sizes, d=24, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)]).astype(np.int64)
    rng.shuffle(labels)
    centres = rng.normal(size=(len(sizes), d))
    emb = (centres[labels] + rng.normal(size=(len(labels), d))).astype(np.float32)
    return emb, labels


def numpy_cr(emb, labels, head=None):
    """CR straight from the definitions, in float64."""
    x = emb.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    c_total = labels.max() + 1
    sums = np.zeros((c_total, x.shape[1]))
    np.add.at(sums, labels, x)
    centres = sums / np.linalg.norm(sums, axis=1, keepdims=True) if head is None else head
    n = len(labels)
    ccs = np.empty(n)
    nn = np.empty(n)
    counts = np.bincount(labels)
    for i in range(n):
        c = labels[i]
        if head is None:
            if counts[c] < 2:
                ccs[i] = np.nan
            else:
                loo = sums[c] - x[i]
                ccs[i] = x[i] @ loo / np.linalg.norm(loo)
        else:
            ccs[i] = x[i] @ head[c]
        s = centres @ x[i]
        s[c] = -np.inf
        nn[i] = s.max()
    return ccs / (nn + 1 + CR_EPS), ccs, nn


SIZES = [1, 2, 3, 7, 30, 12, 5, 1, 40]


def test_loo_cr_equals_the_formula():
    emb, labels = make_data(SIZES)
    res = cr_scores(emb, labels, device="cpu")
    cr, ccs, nn = numpy_cr(emb, labels)
    np.testing.assert_allclose(res.ccs, ccs, atol=1e-6)
    np.testing.assert_allclose(res.nnccs, nn, atol=1e-6)
    np.testing.assert_allclose(res.cr, cr, atol=1e-6)
    single = np.bincount(labels)[labels] == 1
    assert np.isnan(res.cr[single]).all() and res.singleton[single].all()
    assert not res.singleton[~single].any() and np.isfinite(res.cr[~single]).all()
    assert res.centres == "loo"


def test_nearest_other_centre_is_exact_with_bf16_screening():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(300, 64, generator=g), dim=1)
    base = torch.randn(50, 64, generator=g)
    # near-ties: pairs of centres 1e-3 apart, so bfloat16 alone would often pick the wrong one
    near = base + 1e-3 * torch.randn(50, 64, generator=g)
    cen = torch.nn.functional.normalize(torch.cat([base, near]), dim=1)
    own = torch.randint(0, 100, (300,), generator=g)
    s = x @ cen.T
    s[torch.arange(300), own] = -float("inf")
    ref_v, ref_i = s.max(dim=1)
    for screen in (torch.float32, torch.bfloat16):
        v, i = nearest_other_centre(x, own, cen, screen)
        torch.testing.assert_close(v, ref_v, atol=1e-6, rtol=0)
        # the argmax may differ only between centres tied to float32 rounding
        assert (i == ref_i).float().mean() > 0.99
        torch.testing.assert_close(s.gather(1, i[:, None]).flatten(), ref_v, atol=1e-6, rtol=0)


def test_empty_clusters_never_win():
    emb, labels = make_data([5, 6, 7])
    labels = np.where(labels == 1, 3, labels)  # cluster 1 is now empty
    res = cr_scores(emb, labels, n_clusters=4, device="cpu")
    assert not np.any(res.nn_cluster == 1)
    _, _, nn = numpy_cr(emb, np.where(labels == 3, 1, labels))
    np.testing.assert_allclose(res.nnccs, nn, atol=1e-6)


@pytest.fixture
def head_case():
    emb, labels = make_data([4, 6, 5, 3], d=16, seed=3)
    rng = np.random.default_rng(9)
    w = rng.normal(size=(4, 16)).astype(np.float32)
    names = ["alice", "bob", "carol", "dave"]
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    return emb, labels, w, names, unit


def test_head_from_npy_both_orientations(tmp_path, head_case):
    emb, labels, w, names, unit = head_case
    for arr, name in ((w, "h.npy"), (w.T.copy(), "ht.npy")):
        np.save(tmp_path / name, arr)
        head = load_head(tmp_path / name, names, 16)
        np.testing.assert_allclose(head, unit, atol=1e-6)
    res = cr_scores(emb, labels, head=head, device="cpu")
    cr, ccs, nn = numpy_cr(emb, labels, head=unit.astype(np.float64))
    np.testing.assert_allclose(res.cr, cr, atol=1e-6)
    np.testing.assert_allclose(res.ccs, ccs, atol=1e-6)
    assert res.centres == "head" and not res.singleton.any()


def test_head_from_torch_tensor_and_labelled_dict(tmp_path, head_case):
    _, _, w, names, unit = head_case
    torch.save(torch.from_numpy(w), tmp_path / "h.pt")
    np.testing.assert_allclose(load_head(tmp_path / "h.pt", names, 16), unit, atol=1e-6)
    # labelled: rows in another order plus one class the dataset does not have
    order = [2, 0, 3, 1]
    extra = np.ones((1, 16), np.float32)
    torch.save({"weight": torch.from_numpy(np.vstack([w[order], extra])),
                "labels": [names[i] for i in order] + ["zed"]}, tmp_path / "hd.pth")
    np.testing.assert_allclose(load_head(tmp_path / "hd.pth", names, 16), unit, atol=1e-6)
    np.savez(tmp_path / "h.npz", weight=w[order].T, labels=np.array([names[i] for i in order]))
    np.testing.assert_allclose(load_head(tmp_path / "h.npz", names, 16), unit, atol=1e-6)


def test_head_mismatches_are_user_errors(tmp_path, head_case):
    _, _, w, names, _ = head_case
    np.save(tmp_path / "wrongdim.npy", w[:, :10])
    with pytest.raises(UserInputError) as e:
        load_head(tmp_path / "wrongdim.npy", names, 16)
    msg = str(e.value)
    assert "wrongdim.npy" in msg and "(4, 10)" in msg and "(4, 16)" in msg
    torch.save(torch.from_numpy(w[:3]), tmp_path / "fewer.pt")
    with pytest.raises(UserInputError, match=r"\(3, 16\).*\(4, 16\)"):
        load_head(tmp_path / "fewer.pt", names, 16)
    torch.save({"weight": torch.from_numpy(w), "labels": ["a", "b", "c", "d"]}, tmp_path / "l.pt")
    with pytest.raises(UserInputError, match="no row in the head"):
        load_head(tmp_path / "l.pt", names, 16)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(UserInputError, match="junk.pt"):
        load_head(tmp_path / "junk.pt", names, 16)
    with pytest.raises(UserInputError, match="not found"):
        load_head(tmp_path / "missing.npy", names, 16)


def test_one_cluster_is_a_user_error():
    emb, _ = make_data([6])
    with pytest.raises(UserInputError, match="only one cluster"):
        cr_scores(emb, np.zeros(6, np.int64), device="cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cr_on_cuda_matches_cpu():
    emb, labels = make_data(SIZES * 20, d=64, seed=4)
    cpu = cr_scores(emb, labels, device="cpu")
    gpu = cr_scores(emb, labels, device="cuda")
    np.testing.assert_allclose(gpu.cr, cpu.cr, atol=1e-5)
    np.testing.assert_allclose(gpu.nnccs, cpu.nnccs, atol=1e-5)
    assert (gpu.nn_cluster == cpu.nn_cluster).mean() > 0.999
