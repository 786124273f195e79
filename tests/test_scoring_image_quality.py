"""Model-free image cues on synthetic images: blur, exposure, resolution, unreadable files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fiqa_gui.core.errors import Cancelled
from fiqa_gui.core.progress import CancelToken
from fiqa_gui.core.scoring.image_quality import (
    ANALYSIS_SIZE,
    CUES,
    combine,
    compute_image_cues,
    cue_scores,
    face_mask,
    image_cues,
    linear_luminance,
    luminance_cues,
)


def face_like(size=112, seed=0) -> np.ndarray:
    """A mid-grey RGB image with sharp-edged structure and a little sensor noise (uint8)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    # edges on an 11×13 grid: never aligned with JPEG's 8×8 blocks
    edges = 50 * (((x // 11) + (y // 13)) % 2)
    base = 100 + edges + 30 * np.sin(x / 7.0) * np.cos(y / 9.0) + rng.normal(0, 3, (size, size))
    return np.stack([base, base * 0.9, base * 0.8], -1).clip(0, 255).astype(np.uint8)


def test_blur_lowers_sharpness():
    img = Image.fromarray(face_like())
    sharp = image_cues(img)
    blurred = image_cues(img.filter(ImageFilter.GaussianBlur(2)))
    assert blurred["sharpness"] < 0.5 * sharp["sharpness"]
    s, b = cue_scores(sharp), cue_scores(blurred)
    assert b["sharpness"] < s["sharpness"]
    assert combine(b) < combine(s)


def test_dark_image_reports_under_exposure_and_bright_over_exposure():
    arr = face_like()
    dark = image_cues((arr * 0.05).astype(np.uint8))
    normal = image_cues(arr)
    bright = image_cues(np.clip(arr.astype(int) + 200, 0, 255).astype(np.uint8))
    assert dark["under_exposure"] > 0.95 and normal["under_exposure"] < 0.5
    assert bright["over_exposure"] > 0.9 and normal["over_exposure"] < 0.05
    assert dark["luminance_mean"] < normal["luminance_mean"] < bright["luminance_mean"]
    iq = {k: float(combine(cue_scores(v))) for k, v in
          (("dark", dark), ("normal", normal), ("bright", bright))}
    assert iq["dark"] < iq["normal"] and iq["bright"] < iq["normal"]


def test_luminance_definitions():
    # sRGB 255 white → L 255; mid grey 128 → linear 0.2158 → L 55; black → 0
    rgb = np.array([[[255, 255, 255], [128, 128, 128], [0, 0, 0]]], dtype=np.uint8)
    assert linear_luminance(rgb).tolist() == [[255, 55, 0]]
    mask = np.ones((1, 3), bool)
    c = luminance_cues(linear_luminance(rgb), mask)
    assert c["luminance_mean"] == pytest.approx((255 + 55) / 3 / 255)
    assert c["under_exposure"] == pytest.approx(1 / 3)
    assert c["over_exposure"] == pytest.approx(1 / 3)
    assert c["dynamic_range"] == pytest.approx(12.5 * np.log2(3))
    flat = luminance_cues(np.full((8, 8), 100, np.uint8), np.ones((8, 8), bool))
    assert flat["dynamic_range"] == 0 and flat["luminance_variance"] == 0
    full = luminance_cues(np.arange(256, dtype=np.uint8).reshape(16, 16), np.ones((16, 16), bool))
    assert full["dynamic_range"] == pytest.approx(100)


def test_mask_is_a_central_ellipse():
    m = face_mask(ANALYSIS_SIZE, ANALYSIS_SIZE)
    assert m[ANALYSIS_SIZE // 2, ANALYSIS_SIZE // 2] and not m[0, 0] and not m[-1, -1]
    assert 0.3 < m.mean() < 0.6


def test_cue_scores_are_monotone():
    base = {k: np.zeros(5) for k in CUES}
    base.update(luminance_mean=np.full(5, 0.3), luminance_variance=np.full(5, 0.01),
                dynamic_range=np.full(5, 70.0), resolution=np.full(5, 112.0),
                sharpness=np.full(5, 300.0))
    for k, values in (("sharpness", [0, 10, 100, 1000, 5000]),
                      ("resolution", [16, 32, 64, 112, 500]),
                      ("under_exposure", [1.0, 0.6, 0.3, 0.1, 0.0]),
                      ("luminance_variance", [0, 1e-4, 1e-3, 1e-2, 1e-1]),
                      ("luminance_mean", [0.0, 0.02, 0.05, 0.1, 0.3])):
        cues = dict(base, **{k: np.array(values, float)})
        q = cue_scores(cues)[k]
        assert np.all(np.diff(q) >= 0) and q[-1] > q[0], k
        iq = combine(cue_scores(cues))
        assert np.all(np.diff(iq) >= -1e-9) and np.all((iq >= 0) & (iq <= 100))


def test_compute_image_cues_files_in_order_and_unreadable(tmp_path):
    paths = []
    arr = face_like(400)
    Image.fromarray(arr[:, :300]).save(tmp_path / "big.jpg", quality=95)  # 300×400 JPEG
    paths.append(tmp_path / "big.jpg")
    Image.fromarray(face_like(64)).save(tmp_path / "small.png")
    paths.append(tmp_path / "small.png")
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    paths.append(tmp_path / "junk.jpg")
    paths.append(tmp_path / "missing.png")
    data = (tmp_path / "big.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])  # truncated
    paths.append(tmp_path / "cut.jpg")
    Image.fromarray((face_like(112) * 0.05).astype(np.uint8)).save(tmp_path / "dark.png")
    paths.append(tmp_path / "dark.png")
    calls = []
    out = compute_image_cues([str(p) for p in paths], workers=2,
                             progress=lambda d, t, s: calls.append((d, t)))
    assert out["unreadable"].tolist() == [False, False, True, True, True, False]
    assert out["resolution"][0] == 300 and out["resolution"][1] == 64
    for k in (*CUES, "iq"):
        assert np.isnan(out[k][2:5]).all()
        # blockiness needs the stored pixel grid: a JPEG decoded in draft mode has none
        readable = [1, 5] if k == "blockiness" else [0, 1, 5]
        assert np.isfinite(out[k][readable]).all(), k
    assert out["under_exposure"][5] > 0.9
    assert out["iq"][5] < out["iq"][0]
    assert calls[-1] == (6, 6)


def test_compute_image_cues_cancel(tmp_path):
    Image.fromarray(face_like()).save(tmp_path / "a.png")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_image_cues([str(tmp_path / "a.png")] * 5, cancel=token)


def test_noise_and_jpeg_blocks_lower_iq_not_raise_it():
    """The sharpness proxy alone rates noise as detail; the noise and blocking cues undo that."""
    import io

    rng = np.random.default_rng(3)
    clean = face_like()
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(clean).save(buf, format="JPEG", quality=5)
    blocky = np.asarray(Image.open(buf).convert("RGB"))
    c, n, b = (image_cues(Image.fromarray(a)) for a in (clean, noisy, blocky))
    assert n["noise"] > 10 > 5 > c["noise"]
    assert b["blockiness"] > c["blockiness"] + 0.3
    assert abs(n["sharpness"] - c["sharpness"]) < 0.5 * c["sharpness"]  # noise removed
    iq = {k: float(combine(cue_scores({q: np.array([v[q]]) for q in CUES}))[0])
          for k, v in (("clean", c), ("noisy", n), ("blocky", b))}
    assert iq["noisy"] < iq["clean"] - 15 and iq["blocky"] < iq["clean"] - 15
