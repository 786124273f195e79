"""score_dataset end to end, device resolution, and the user errors a run can hit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fiqa_gui.core.errors import Cancelled, UserInputError
from fiqa_gui.core.progress import CancelToken
from fiqa_gui.core.scoring import ScoringParams, resolve_device, score_dataset
from fiqa_gui.core.scoring.cr import cr_scores
from fiqa_gui.core.scoring.device import iter_normalized_chunks, load_normalized
from fiqa_gui.core.scoring.sdd import sdd_scores


def dataset(tmp_path, sizes=(6, 5, 1, 8), d=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)]).astype(np.int64)
    centres = rng.normal(size=(len(sizes), d))
    emb = (centres[labels] + 0.5 * rng.normal(size=(len(labels), d))).astype(np.float32)
    names = [f"id{i:02d}" for i in range(len(sizes))]
    paths = []
    for i in range(len(labels)):
        p = tmp_path / f"{i}.png"
        arr = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(arr).save(p)
        paths.append(str(p))
    return emb, labels, names, paths


def test_score_dataset_columns_flags_and_params(tmp_path):
    emb, labels, names, paths = dataset(tmp_path)
    paths[0] = str(tmp_path / "gone.png")  # unreadable
    planted = 3  # an id00 image that is really id03
    emb[planted] = emb[labels == 3][0] + 0.01
    seen = []
    res = score_dataset(emb, labels, names, paths, ScoringParams(device="cpu"),
                        progress=lambda d, t, s: seen.append(s))
    n = len(labels)
    for col in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq"):
        assert getattr(res, col).shape == (n,)
    assert set(res.cues) >= {"sharpness", "resolution", "under_exposure"}
    single = int(np.flatnonzero(labels == 2)[0])
    assert "singleton" in res.flags[single] and np.isnan(res.sdd[single])
    assert np.isnan(res.cr[single])
    assert "unreadable" in res.flags[0] and np.isnan(res.iq[0]) and res.unreadable[0]
    assert "identity_suspect" in res.flags[planted] and res.sdd_signed[planted] < 0
    assert np.isfinite(res.iq[1:]).all()
    assert res.device == "cpu" and res.seconds > 0
    d = res.params_dict()
    json.dumps(d)
    assert d["seed"] == 0 and d["repeats"] == 12 and d["resolved_device"] == "cpu"
    assert {"SDD", "CR", "image quality"} <= set(seen)
    assert set(res.columns()) >= {"sdd", "cr", "iq", "sharpness"}


def test_score_dataset_matches_the_parts_and_skips_cues(tmp_path):
    emb, labels, names, _ = dataset(tmp_path)
    params = ScoringParams(device="cpu", seed=4, repeats=5, image_cues=False)
    res = score_dataset(emb, labels, names, None, params)
    np.testing.assert_array_equal(res.sdd, sdd_scores(emb, labels, repeats=5, seed=4,
                                                      device="cpu").sdd)
    np.testing.assert_array_equal(res.cr, cr_scores(emb, labels, device="cpu").cr)
    assert np.isnan(res.iq).all() and not res.unreadable.any()
    ex = score_dataset(emb, labels, names, None, ScoringParams(device="cpu", exact=True,
                                                               image_cues=False))
    assert ex.params_dict()["exact"] is True


def test_score_dataset_with_head(tmp_path):
    emb, labels, names, _ = dataset(tmp_path)
    w = np.random.default_rng(1).normal(size=(len(names), emb.shape[1])).astype(np.float32)
    np.save(tmp_path / "head.npy", w)
    res = score_dataset(emb, labels, names, None,
                        ScoringParams(device="cpu", head_path=str(tmp_path / "head.npy"),
                                      image_cues=False))
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    wn = w / np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(res.ccs, (x * wn[labels]).sum(1), atol=1e-6)
    np.save(tmp_path / "bad.npy", w[:, :5])
    with pytest.raises(UserInputError, match="bad.npy"):
        score_dataset(emb, labels, names, None,
                      ScoringParams(device="cpu", head_path=str(tmp_path / "bad.npy")))


def test_memmap_embeddings_are_read_in_place(tmp_path):
    emb, labels, names, _ = dataset(tmp_path)
    np.save(tmp_path / "e.npy", emb)
    mm = np.load(tmp_path / "e.npy", mmap_mode="r")
    res = score_dataset(mm, labels, names, None, ScoringParams(device="cpu", image_cues=False))
    ref = score_dataset(emb, labels, names, None, ScoringParams(device="cpu", image_cues=False))
    np.testing.assert_array_equal(res.sdd, ref.sdd)
    np.testing.assert_array_equal(res.cr, ref.cr)
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy"), emb)  # file untouched


def test_user_errors(tmp_path):
    emb, labels, names, _ = dataset(tmp_path)
    p = ScoringParams(device="cpu", image_cues=False)
    with pytest.raises(UserInputError, match="only one cluster.*negatives impossible"):
        score_dataset(emb, np.zeros(len(labels), np.int64), names, None, p)
    with pytest.raises(UserInputError, match="out of range"):
        score_dataset(emb, labels + 1, names, None, p)
    with pytest.raises(UserInputError, match="labels for"):
        score_dataset(emb, labels[:-1], names, None, p)
    with pytest.raises(UserInputError, match="image paths"):
        score_dataset(emb, labels, names, ["a.png"], ScoringParams(device="cpu"))
    with pytest.raises(UserInputError, match="unknown device"):
        score_dataset(emb, labels, names, None, ScoringParams(device="tpu"))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        score_dataset(emb, labels, names, None, p, cancel=token)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_user_error():
    with pytest.raises(UserInputError, match="cuda") as e:
        resolve_device("cuda")
    assert "CPU" in str(e.value) or "GPU" in str(e.value)
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cpu").type == "cpu"


def test_chunked_normalisation_helpers():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(37, 8)).astype(np.float32)
    emb[5] = 0
    parts = [t for _, t in iter_normalized_chunks(emb, 10, torch.device("cpu"))]
    x = torch.cat(parts).numpy()
    norms = np.linalg.norm(x, axis=1)
    assert norms[5] == 0 and np.allclose(np.delete(norms, 5), 1, atol=1e-6)
    rows = np.array([30, 2, 2, 17])
    np.testing.assert_allclose(load_normalized(emb, rows, torch.device("cpu")).numpy(),
                               x[rows], atol=1e-7)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pipeline_on_cuda(tmp_path):
    emb, labels, names, _ = dataset(tmp_path, sizes=(30, 40, 3, 1, 26))
    cpu = score_dataset(emb, labels, names, None, ScoringParams(device="cpu", image_cues=False))
    gpu = score_dataset(emb, labels, names, None, ScoringParams(device="cuda",
                                                                image_cues=False))
    assert gpu.device.startswith("cuda")
    np.testing.assert_allclose(gpu.sdd_raw, cpu.sdd_raw, atol=1e-5)
    np.testing.assert_allclose(gpu.cr, cpu.cr, atol=1e-5)
