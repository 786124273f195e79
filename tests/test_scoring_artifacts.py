"""Noise and JPEG-blocking estimators on synthetic images with known artefacts."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fiqa_gui.core.scoring.artifacts import blockiness, noise_sigma


def smooth_face(size=112):
    y, x = np.mgrid[0:size, 0:size] / size
    g = 120 + 60 * np.sin(3 * x) * np.cos(2 * y) + 40 * ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1)
    return g


def test_noise_sigma_recovers_added_noise():
    rng = np.random.default_rng(0)
    clean = smooth_face()
    assert noise_sigma(clean) < 3.0  # an edge and shading, no noise
    for sigma in (5.0, 10.0, 20.0):
        est = noise_sigma(clean + rng.normal(0, sigma, clean.shape))
        assert abs(est - sigma) < 0.25 * sigma + 1.5, (sigma, est)


def test_blockiness_rises_with_jpeg_compression():
    rng = np.random.default_rng(1)
    g = np.clip(smooth_face() + rng.normal(0, 3, (112, 112)), 0, 255).astype(np.uint8)

    def jpeg(q):
        buf = io.BytesIO()
        Image.fromarray(g).save(buf, format="JPEG", quality=q)
        return np.asarray(Image.open(buf).convert("L"), dtype=float)

    raw = blockiness(g)
    assert 0.8 < raw < 1.2
    assert blockiness(jpeg(5)) > blockiness(jpeg(90)) + 0.3
    assert np.isnan(blockiness(np.zeros((10, 10))))
