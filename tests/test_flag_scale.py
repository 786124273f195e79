"""The flags' absolute poorness scale (issue 14): crowding, the reference sets, self-calibration,
the trap rule, who may be an anchor, and the demo's answer key."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fiqa_gui.core.labels.anchored import propose_anchors
from fiqa_gui.core.labels.diagnostics import FlagParams, _trap_cues
from fiqa_gui.core.labels.eligibility import ineligible, near_blank
from fiqa_gui.core.labels.quality_scale import POOR_MARGIN, crowding, quality_scale
from fiqa_gui.core.labels.self_calibration import KINDS, calibrate_iq, image_iq, self_degrade
from fiqa_gui.core.review.answer_key import (
    ANSWER_KEY_LABEL,
    data_attribute_names,
    shown_attributes,
)
from tests.face_photos import FACES


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute_crowding(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    out = np.empty(len(x))
    for i in range(len(x)):
        best = []
        for c in np.unique(labels):
            if c == labels[i]:
                continue
            d2 = ((x[labels == c] - x[i]) ** 2).sum(axis=1)
            best.append(1.0 - 0.5 * d2.min())
        out[i] = np.mean(sorted(best, reverse=True)[:k])
    return out


def test_crowding_equals_brute_force_and_ignores_centring():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(14), rng.integers(2, 7, 14))
    x = _unit(rng.normal(size=(len(labels), 16)))
    got = crowding(x, labels, k=5)
    assert np.allclose(got, _brute_crowding(x, labels, 5), atol=1e-5)
    # subtracting a mean vector (rows not re-normalised) moves no distance
    assert np.allclose(crowding(x - x.mean(axis=0), labels, k=5), got, atol=1e-5)
    # on unit rows it is the mean of the highest cosine to each of the k nearest identities
    cos = x @ x.T
    i = 0
    per = sorted((cos[i, labels == c].max() for c in np.unique(labels) if c != labels[i]),
                 reverse=True)
    assert got[i] == pytest.approx(np.mean(per[:5]), abs=1e-5)


def test_crowding_is_exact_where_nearest_references_repeat_a_cluster():
    """Many clusters (the wider top-k path) and few (the per-cluster scatter), with tight clusters
    so that a row's nearest references often repeat one: the per-cluster maxima stay exact."""
    from fiqa_gui.core.labels.quality_scale import WIDE_FROM

    rng = np.random.default_rng(7)
    for n_id, per in ((WIDE_FROM + 88, 3), (40, 12)):
        labels = np.repeat(np.arange(n_id), per)
        centres = _unit(rng.normal(size=(n_id, 24)))
        x = _unit(centres[labels] + 0.2 * rng.normal(size=(len(labels), 24)))
        near = 1.0 - 0.5 * ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
        near[labels[:, None] == labels[None, :]] = -np.inf
        per_cluster = np.maximum.reduceat(near, np.arange(0, len(labels), per), axis=1)
        want = -np.sort(-per_cluster, axis=1)[:, :10].mean(axis=1)
        assert np.allclose(crowding(x, labels), want, atol=1e-5)


def _per_cluster_crowding(x: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
    """float64 reference with every image a reference: labels sorted, clusters contiguous."""
    near = 1.0 - 0.5 * ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    near[labels[:, None] == labels[None, :]] = -np.inf
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    per_cluster = np.maximum.reduceat(near, starts, axis=1)
    return -np.sort(-per_cluster, axis=1)[:, :k].mean(axis=1)


def test_screened_crowding_gives_the_float32_values():
    """Over SCREEN_FROM references the bfloat16 screen with float32 re-scoring is used: same
    values as the float32 product (to its rounding) and as a float64 brute force."""
    from fiqa_gui.core.labels.quality_scale import SCREEN_FROM

    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(300), 4)
    assert len(labels) >= SCREEN_FROM
    centres = _unit(rng.normal(size=(300, 48)))
    x = _unit(centres[labels] + 0.3 * rng.normal(size=(len(labels), 48)))
    screened = crowding(x, labels, screen=True)
    assert np.allclose(screened, crowding(x, labels, screen=False), atol=1e-6, rtol=0)
    assert np.allclose(screened, _per_cluster_crowding(x, labels), atol=1e-5, rtol=0)


def test_screen_hands_back_rows_it_cannot_decide():
    """Rows whose nearest identities tie within the screen's error bound (the same image filed
    under many clusters) are done in full; rows with clear neighbours are not."""
    import torch

    from fiqa_gui.core.labels.quality_scale import _Screen

    rng = np.random.default_rng(5)
    dim = 32
    labels = np.repeat(np.arange(400), 3)
    x = _unit(rng.normal(size=(len(labels), dim)))
    twin = _unit(rng.normal(size=(1, dim)))[0]
    # one image copied (with a whisper of noise) into the first image of 60 clusters: to each
    # copy, 59 other identities lie at cosine ≈ 1, far more ties than the screen's candidates
    x[np.arange(60) * 3] = _unit(twin + 1e-4 * rng.normal(size=(60, dim)))
    ref = torch.from_numpy(x.astype(np.float32))
    col = torch.from_numpy(labels)
    clusters, start = np.unique(labels, return_index=True)
    count = np.diff(np.append(start, len(labels)))
    screen = _Screen(ref, -0.5 * (ref * ref).sum(dim=1), col, 10)
    _, redo = screen.top(ref, labels, clusters, start, count)
    redo = set(redo.tolist())
    assert set(range(0, 180, 3)) <= redo
    assert len(redo) < len(labels) // 4
    screened = crowding(x, labels, screen=True)
    assert np.allclose(screened, crowding(x, labels, screen=False), atol=1e-6, rtol=0)
    assert np.allclose(screened, _per_cluster_crowding(x, labels), atol=1e-5, rtol=0)


def test_crowding_counts_a_look_alike_identity_once():
    """A clean image whose identity has one look-alike is close to one identity; a degraded image
    drifts toward every identity's degraded images. Only the latter is crowded."""
    rng = np.random.default_rng(0)
    dim, n_id = 64, 12
    centres = _unit(rng.normal(size=(n_id, dim)))
    centres[1] = centres[0] + 0.15 * rng.normal(size=dim)  # identity 1 looks like 0
    drift = _unit(rng.normal(size=(1, dim)))[0]
    rows, labels, poor = [], [], []
    centres = _unit(centres)
    for c in range(n_id):
        for j in range(6):
            q = 0.25 if (c >= 6 and j < 3) else 1.0   # half of identities 6..11 degraded
            rows.append(q * centres[c] + (1 - q) * 1.5 * drift + 0.05 * rng.normal(size=dim))
            labels.append(c)
            poor.append(q < 1)
    x, labels, poor = _unit(np.array(rows)), np.array(labels), np.array(poor)
    e = crowding(x, labels, k=5)
    look_alike = labels == 0
    assert e[poor].min() > e[look_alike & ~poor].max()


def test_poor_references_lie_a_margin_below_the_calibrated_level():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(20), 10)
    iq = rng.uniform(20, 95, 200)
    q = (iq - 20) / 75  # low pixel quality drifts toward a shared direction (SPEC §5)
    centres = _unit(rng.normal(size=(20, 16)))
    drift = _unit(rng.normal(size=(1, 16)))
    x = _unit(q[:, None] * centres[labels] + (1 - q[:, None]) * drift
              + 0.05 * rng.normal(size=(200, 16)))
    scale = quality_scale(x, labels, iq, iq_poor=60.0, iq_good=75.0)
    assert scale.method == "pixel calibration"
    assert np.all(iq[scale.poor] < 60.0 - POOR_MARGIN)
    assert np.all(iq[scale.good] >= 75.0)
    # 0 and 1 are the references' medians, on both parts
    assert np.nanmedian(scale.pixel_poorness[scale.good]) == pytest.approx(0.0, abs=1e-9)
    assert np.nanmedian(scale.pixel_poorness[scale.poor]) == pytest.approx(1.0, abs=1e-9)
    assert np.nanmedian(scale.embedding_poorness[scale.good]) == pytest.approx(0.0, abs=1e-9)
    assert np.nanmedian(scale.embedding_poorness[scale.poor]) == pytest.approx(1.0, abs=1e-9)
    # the curator's trusted images replace the pixel good references
    trusted = np.arange(0, 200, 7)
    cur = quality_scale(x, labels, iq, iq_poor=60.0, iq_good=75.0, trusted=trusted)
    assert cur.method == "curator references" and np.array_equal(cur.good, trusted)
    assert not np.isin(cur.poor, trusted).any()


@pytest.mark.parametrize(("p_emb", "p_pix", "p_deg", "expect"), [
    (0.6, 0.5, np.nan, (True, True)),     # both lean poor: flagged, both named
    (0.65, 0.1, np.nan, (False, False)),  # a look-alike in dim light: neither cue is clear
    (0.75, 0.0, np.nan, (True, False)),   # the embedding alone is clear (occluders)
    (0.2, 1.1, np.nan, (False, True)),    # the pixels alone are clear
    (0.45, 0.9, np.nan, (False, False)),
    (0.6, np.nan, np.nan, (True, False)),  # no pixel cues: the embedding decides at 0.5
    (0.45, np.nan, np.nan, (False, False)),
    (np.nan, 1.2, np.nan, (False, True)),
    # with the calibrated degradation, it (not iq) supports the embedding
    (0.65, 0.81, 0.2, (False, False)),    # dim look-alike: low iq, clean sharpness/noise/blocks
    (0.55, 0.1, 0.45, (True, True)),      # mild JPEG: iq barely moved, blocking did
    (0.1, 0.1, 0.7, (False, True)),       # clearly degraded on one cue
    (0.1, 0.1, 0.55, (False, False)),
    (0.1, 1.2, 0.1, (False, True)),       # exposure/occlusion: iq alone still counts
])
def test_trap_rule(p_emb, p_pix, p_deg, expect):
    assert _trap_cues(p_emb, p_pix, FlagParams(), p_deg) == expect


def test_self_calibration_degrades_the_best_real_photos(tmp_path):
    paths = []
    for k, face in enumerate(sorted(FACES.glob("*.jpg"))):
        img = Image.open(face).convert("RGB")
        img.thumbnail((160, 160))
        for j, box in enumerate([(0, 0, 1, 1), (0.1, 0.1, 0.9, 0.9)]):
            w, h = img.size
            crop = img.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w),
                             int(box[3] * h))).resize((112, 112))
            p = tmp_path / f"{k}_{j}.png"
            crop.save(p)
            paths.append(str(p))
    iq = np.array([image_iq(Image.open(p)) for p in paths])
    cal = calibrate_iq(paths, iq, n_best=6, seed=0)
    assert cal is not None
    assert cal.images == [int(i) for i in np.argsort(-iq, kind="stable")[:6]]
    assert cal.best_iq == pytest.approx(float(np.median(iq[cal.images])))
    assert set(cal.by_kind) == set(KINDS)
    assert cal.by_kind["blur"] < cal.best_iq and cal.iq_poor < cal.best_iq
    assert cal.iq_poor < cal.iq_good < cal.best_iq
    again = calibrate_iq(paths, iq, n_best=6, seed=0)
    assert again.as_dict() == cal.as_dict()
    # every degradation keeps the size; an unknown one is refused
    rng = np.random.default_rng(0)
    one = Image.open(paths[0])
    assert all(self_degrade(one, kind, rng).size == one.size for kind in KINDS)
    with pytest.raises(ValueError, match="unknown calibration degradation"):
        self_degrade(one, "sepia", rng)
    assert calibrate_iq(paths[:3], iq[:3]) is None  # too few to calibrate


def test_anchors_skip_identity_suspects_and_near_blank_images():
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    strength = np.array([0.9, 0.8, 0.3, 0.2, 0.95, 0.5, 0.4])
    flags = [["identity_suspect"], [], [], [], [], [], []]
    iq = np.array([80, 80, 70, 60, 12, 70, 65], dtype=float)  # image 4 is a flat frame
    blank = near_blank(len(labels), iq)
    assert blank.tolist() == [False] * 4 + [True, False, False]
    lum_var = np.full(len(labels), 0.05)
    lum_var[2] = 0.0001  # luminance std 0.01: flat
    assert near_blank(len(labels), None, lum_var).tolist() == [False, False, True] + [False] * 4
    skip = ineligible(flags, blank)
    anchors = propose_anchors(labels, strength, skip, max_anchors=1, fraction=0.01)
    assert anchors == {0: [1], 1: [5]}  # not the suspect 0, not the blank 4


def test_answer_key_is_labelled_and_left_out_of_choices():
    demo = {"pose": ["left", "right"], "scenario": ["clean", "mixed"],
            "true_quality": ["100.0", "34.0"], "degradation": ["none", ""]}
    rows = shown_attributes(demo, 1)
    assert rows[0] == ("pose", "right", False)  # data first
    assert (f"{ANSWER_KEY_LABEL}: true_quality", "34.0", True) in rows
    assert all(label.startswith(ANSWER_KEY_LABEL) for label, _, key in rows if key)
    assert not any(label.endswith("degradation") for label, _, _ in rows)  # empty value hidden
    assert data_attribute_names(list(demo)) == ["pose"]
    assert shown_attributes(demo, 0, include_answer_key=False) == [("pose", "left", False)]
    # another manifest's columns named alike are its data (no demo signature)
    mine = {"scenario": ["indoor"], "camera": ["A"]}
    assert shown_attributes(mine, 0) == [("scenario", "indoor", False), ("camera", "A", False)]
    assert data_attribute_names(list(mine)) == ["scenario", "camera"]
