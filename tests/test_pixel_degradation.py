"""Pixel degradation on the calibration's own scale (issue 14), on the real photos: the project's
best images sit at 0, their calibration copies at 1 on the cue each degradation moves, a photo
in dim light stays clean, and stronger degradations land beyond 1."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from fiqa_gui.core.labels.pixel_degradation import cue_levels, pixel_degradation
from fiqa_gui.core.labels.self_calibration import calibrate_iq, measure
from fiqa_gui.core.scoring.image_quality import compute_image_cues
from tests.face_photos import FACES


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The five real photos as 112 px crops (two crops each), written as PNG."""
    root = tmp_path_factory.mktemp("faces")
    paths = []
    for k, face in enumerate(sorted(FACES.glob("*.jpg"))):
        img = Image.open(face).convert("RGB")
        img.thumbnail((160, 160))
        w, h = img.size
        for j, box in enumerate([(0, 0, 1, 1), (0.1, 0.1, 0.9, 0.9)]):
            crop = img.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w),
                             int(box[3] * h))).resize((112, 112), Image.LANCZOS)
            p = root / f"{k}_{j}.png"
            crop.save(p)
            paths.append(str(p))
    return paths


def _variants(path: str, out_dir) -> dict[str, str]:
    """A clean photo, copies in dim light (70 % brightness) and over-exposed (300 %), and
    stronger-than-calibration degradations of it."""
    img = Image.open(path).convert("RGB")
    made = {"clean": img,
            "dim": ImageEnhance.Brightness(img).enhance(0.7),
            "bright": ImageEnhance.Brightness(img).enhance(3.0),
            "blur": img.filter(ImageFilter.GaussianBlur(3.0)),
            "lowres": img.resize((28, 28), Image.BOX).resize((112, 112), Image.BICUBIC)}
    arr = np.asarray(img, dtype=np.float32)
    noisy = arr + np.random.default_rng(1).normal(0, 25, arr.shape)
    made["noise"] = Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=8)
    made["jpeg"] = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    paths = {}
    for name, im in made.items():
        p = out_dir / f"{name}.png"
        im.save(p)
        paths[name] = str(p)
    return paths


def test_calibration_records_the_cue_levels(photos):
    iq = np.array([measure(Image.open(p))[0] for p in photos])
    cal = calibrate_iq(photos, iq, n_best=6, seed=0)
    # blur and down-scaling lower sharpness, noise raises noise, JPEG raises blocking
    assert cal.cue_degraded["blur"]["sharpness"] < 0.2 * cal.cue_best["sharpness"]
    assert cal.cue_degraded["downscale"]["sharpness"] < 0.5 * cal.cue_best["sharpness"]
    assert cal.cue_degraded["noise"]["noise"] > 3 * cal.cue_best["noise"]
    assert cal.cue_degraded["jpeg"]["blockiness"] > 1.3 * cal.cue_best["blockiness"]
    levels = cue_levels(cal)
    assert set(levels) == {"sharpness", "noise", "blockiness"}
    # the stored form gives the same levels (re-scoring reads the run's parameters)
    stored = cue_levels(cal.as_dict())
    assert set(stored) == set(levels)
    for cue, pair in levels.items():
        assert stored[cue] == pytest.approx(pair, rel=1e-3)


def test_degradation_scale_on_real_photos(photos, tmp_path):
    iq = np.array([measure(Image.open(p))[0] for p in photos])
    cal = calibrate_iq(photos, iq, n_best=6, seed=0)
    own = pixel_degradation(compute_image_cues([photos[i] for i in cal.images]), cal,
                            len(cal.images))
    assert abs(np.median(own.value)) < 0.35  # the best images themselves: about 0
    rows = {name: [] for name in ("clean", "dim", "bright", "blur", "lowres", "noise",
                                  "jpeg")}
    for k, p in enumerate(photos[::2]):
        d = tmp_path / str(k)
        d.mkdir()
        for name, q in _variants(p, d).items():
            rows[name].append(q)
    value = {}
    for name, paths in rows.items():
        deg = pixel_degradation(compute_image_cues(paths), cal, len(paths))
        value[name] = deg
    med = {name: float(np.median(deg.value)) for name, deg in value.items()}
    assert med["clean"] < 0.5 and med["dim"] < 0.5, med
    for name in ("bright", "blur", "lowres", "noise", "jpeg"):
        assert med[name] > 0.9, (name, med)  # stronger than the calibration: beyond 1
    # the cue that gave the value is the one the degradation moves
    names = {name: {deg.cue_name(int(c)) for c in deg.cue} for name, deg in value.items()}
    assert names["blur"] == {"sharpness"} and names["lowres"] == {"sharpness"}
    assert names["noise"] == {"noise"} and names["jpeg"] == {"blockiness"}
    assert names["bright"] == {"over_exposure"}


def test_without_calibration_or_cues_nothing_is_claimed():
    cues = {"sharpness": np.array([10.0, 500.0]), "noise": np.array([2.0, 20.0]),
            "blockiness": np.array([1.0, np.nan])}
    for cal in (None, {}, {"cue_best": {}, "cue_degraded": {}}):
        deg = pixel_degradation(cues, cal, 2)
        assert np.isnan(deg.value).all() and (deg.cue == -1).all()
    # a calibration that did not move a cue (best images already blurred) leaves it out
    flat = {"cue_best": {"sharpness": 100.0, "noise": 2.0, "blockiness": 1.0},
            "cue_degraded": {"blur": {"sharpness": 98.0}, "downscale": {"sharpness": 99.0},
                             "noise": {"noise": 10.0}, "jpeg": {"blockiness": 2.5}}}
    assert set(cue_levels(flat)) == {"noise", "blockiness"}
    deg = pixel_degradation(cues, flat, 2)
    assert deg.cues == ("noise", "blockiness")
    # noise 20 on a 2 → 10 scale: log 10 / log 5 ≈ 1.43; the row with no blocking keeps noise
    assert deg.value[1] == pytest.approx(np.log(10) / np.log(5))
    assert deg.cue_name(int(deg.cue[1])) == "noise"
    assert deg.value[0] == pytest.approx(0.0, abs=1e-12)  # as the best images on both cues
    assert pixel_degradation(None, flat, 2).cues == ()


def test_trap_explanation_names_the_cue_and_its_number():
    """A cluster whose photos all carry JPEG blocks beyond the calibration's copies is a trap,
    and the window's text says which cue and how far, with the numbers behind it."""
    from fiqa_gui.core.labels.project_scoring import finish_scores

    rng = np.random.default_rng(0)
    n_clusters, per = 12, 10
    labels = np.repeat(np.arange(n_clusters), per)
    centres = rng.standard_normal((n_clusters, 64))
    x = centres[labels] + 0.3 * rng.standard_normal((len(labels), 64))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    n = len(labels)
    blocked = labels == 0
    cues = {"sharpness": np.full(n, 800.0), "noise": np.full(n, 2.0),
            "blockiness": np.where(blocked, 2.5, 1.0), "over_exposure": np.zeros(n)}
    calibration = {"cue_best": {"sharpness": 800.0, "noise": 2.0, "blockiness": 1.0},
                   "cue_degraded": {"blur": {"sharpness": 5.0},
                                    "downscale": {"sharpness": 40.0},
                                    "noise": {"noise": 10.0}, "jpeg": {"blockiness": 2.0}}}
    iq = np.where(blocked, 62.0, 88.0) + rng.uniform(-1, 1, n)
    iq[labels == 1] = 40.0  # poor references for the iq scale
    cols = {"sdd": rng.uniform(50, 90, n), "sdd_signed": np.ones(n), "cr": rng.uniform(size=n),
            "ccs": np.ones(n), "nnccs": np.zeros(n), "iq": iq}
    diag, _, _ = finish_scores(x, labels, cols, iq_poor=60.0, iq_good=75.0,
                               calibration=calibration, cues=cues,
                               cluster_names=[f"c{k}" for k in range(n_clusters)])
    assert "consistency_trap" in diag.cluster_flags.get(0, [])
    (trap,) = [d for d in diag.details if d.flag == "consistency_trap" and d.cluster == 0]
    expected = np.log(2.5) / np.log(2.0)
    assert f"JPEG blocking is {expected:.0%} of the way" in trap.explanation
    assert "JPEG-compressed copies" in trap.explanation
    assert trap.numbers["degradation_cue"] == "blockiness"
    assert trap.numbers["pixel_degradation"] == pytest.approx(expected)
    assert trap.numbers["threshold_degradation"] == 0.6
