"""The embedding map's PCA against numpy's SVD, its determinism, and the dataset sample."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.review.embedding_map import (
    colour_values,
    embedding_map,
    pca_2d,
    sample_ids,
)


def _svd_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    xc = x - x.mean(axis=0)
    _u, s, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:2].T, (s[:2] ** 2) / (s ** 2).sum()


@pytest.mark.parametrize("n,d", [(300, 32), (40, 512), (5, 3)])
def test_pca_matches_numpy_svd_up_to_the_sign_of_each_axis(n, d):
    rng = np.random.default_rng(n + d)
    # anisotropic data, so the two first axes are well separated
    x = rng.normal(size=(n, d)) * np.linspace(3.0, 0.2, d)
    xy, explained, axes = pca_2d(x)
    ref_xy, ref_explained = _svd_reference(x)
    assert xy.shape == (n, 2)
    for k in range(2):
        sign = np.sign(xy[:, k] @ ref_xy[:, k])
        np.testing.assert_allclose(xy[:, k], sign * ref_xy[:, k], atol=1e-8)
    np.testing.assert_allclose(explained, ref_explained, rtol=1e-8)
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-10)


def test_pca_sign_is_fixed_so_the_same_images_give_the_same_map():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 16))
    a, _, axes = pca_2d(x)
    b, _, _ = pca_2d(x[::-1].copy())
    np.testing.assert_allclose(a[::-1], b, atol=1e-9)
    big = np.argmax(np.abs(axes), axis=1)
    assert (axes[np.arange(2), big] > 0).all()


def test_pca_of_tiny_inputs():
    xy, explained, _ = pca_2d(np.zeros((0, 8)))
    assert xy.shape == (0, 2) and not explained.any()
    xy, _, _ = pca_2d(np.ones((1, 8)))
    np.testing.assert_allclose(xy, 0)
    xy, _, _ = pca_2d(np.random.default_rng(0).normal(size=(6, 1)))
    assert xy.shape == (6, 2) and np.allclose(xy[:, 1], 0)


def test_embedding_map_reads_the_rows_of_the_given_ids_in_their_order(tmp_path):
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(500, 24)).astype(np.float32)
    np.save(tmp_path / "e.npy", emb)
    mm = np.load(tmp_path / "e.npy", mmap_mode="r")
    ids = np.array([400, 3, 250, 17, 99, 5, 42, 311])
    m = embedding_map(mm, ids)
    np.testing.assert_array_equal(m.ids, ids)
    want, _, _ = pca_2d(emb[ids])
    np.testing.assert_allclose(m.xy, want, atol=1e-6)


def test_sample_is_seeded_bounded_and_keeps_what_is_asked():
    a = sample_ids(1_000_000, 20000, seed=3)
    b = sample_ids(1_000_000, 20000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 20000 and len(np.unique(a)) == 20000 and (np.diff(a) > 0).all()
    assert not np.array_equal(a, sample_ids(1_000_000, 20000, seed=4))
    keep = np.array([7, 999_999, 123_456])
    c = sample_ids(1_000_000, 20000, seed=3, keep=keep)
    assert len(c) == 20000 and np.isin(keep, c).all()
    np.testing.assert_array_equal(sample_ids(50, 20000), np.arange(50))


def test_colour_values_clip_outliers_and_keep_nan():
    v = np.concatenate([np.linspace(0, 1, 98), [1000.0, np.nan]])
    scaled, lo, hi = colour_values(v)
    assert np.isnan(scaled[-1]) and scaled[-2] == 1.0
    assert 0 <= lo < hi < 1000
    assert np.isnan(colour_values(np.full(3, np.nan))[0]).all()
