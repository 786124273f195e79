"""The user's own face model: a tiny network built here, exported to TorchScript and ONNX.
The project's embeddings must equal the network's forward pass on the same preprocessed crops
(preprocessing recomputed here, independently); alignment; bad models and inputs exit 2."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from fiqa_gui.cli import main
from fiqa_gui.core.ingest.embed.alignment import (
    arcface_template,
    similarity_transform,
    warp_affine,
)
from fiqa_gui.core.store import Project
from tests.face_photos import PEOPLE, photo_folder

SIZE = 32


class TinyFaceNet(torch.nn.Module):
    """A conv + linear embedding net whose linear layer fixes the input size at 32×32."""

    def __init__(self, out_4d: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4 * 15 * 15, 8)
        self.out_4d = out_4d

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return h if self.out_4d else self.fc(h.flatten(1))


def export(net: torch.nn.Module, path, kind: str):
    x = torch.zeros(2, 3, SIZE, SIZE)
    if kind == "pt":
        torch.jit.trace(net.eval(), x).save(str(path))
    else:
        pytest.importorskip("onnx")
        torch.onnx.export(net.eval(), (x,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return path


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """Pre-aligned 'crops': the real photos and derived variants (2 per person)."""
    return photo_folder(tmp_path_factory.mktemp("crops") / "photos", variants=("orig", "flip"))


def _manifest(proj):
    with open(proj / "crops.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def expected(net, images: list[np.ndarray], channels: str, flip: str, mean=0.5, std=0.5):
    """The network's forward pass on crops preprocessed here, written out by hand."""
    x = torch.tensor(np.stack(images), dtype=torch.float32) / 255.0     # N,H,W,C (RGB)
    if channels == "bgr":
        x = x.flip(-1)
    x = ((x - mean) / std).permute(0, 3, 1, 2)
    with torch.no_grad():
        y = net(x)
        yf = net(torch.flip(x, dims=[3]))
    return {"none": y, "sum": y + yf, "concat": torch.cat([y, yf], 1)}[flip].numpy(), y


@pytest.mark.parametrize("kind,channels,flip", [("pt", "rgb", "none"), ("pt", "bgr", "sum"),
                                                 ("onnx", "rgb", "concat"),
                                                 ("onnx", "bgr", "none")])
def test_project_embeddings_equal_the_forward_pass(crops, tmp_path, kind, channels, flip):
    if kind == "onnx":
        pytest.importorskip("onnxruntime")
    net = TinyFaceNet()
    model = export(net, tmp_path / f"net.{kind}", kind)
    proj = tmp_path / "p"
    assert main(["init", str(proj), "--images", str(crops), "--model", str(model),
                 "--input-size", str(SIZE), "--channels", channels, "--flip", flip,
                 "--batch", "3", "-q"]) == 0
    rows = _manifest(proj)
    assert len(rows) == 2 * len(PEOPLE)
    # the crop is the photo resized to the input size (no detection without --align) …
    images = []
    for r in rows:
        with Image.open(r["source_path"]) as im:
            resized = np.asarray(im.convert("RGB").resize((SIZE, SIZE),
                                                          Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(np.asarray(Image.open(proj / r["path"])), resized)
        images.append(resized)
    want, raw = expected(net, images, channels, flip)
    with Project.open(proj, read_only=True) as p:
        got = np.asarray(p.embeddings())
        norms = p.scores(p.latest_run("embed").id)["embedding_norm"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norms, np.linalg.norm(raw.numpy(), axis=1), rtol=1e-4)
    recipe = json.loads((proj / "embedding.json").read_text())
    assert recipe["preprocessing"] == {"input_size": SIZE, "channels": channels,
                                       "mean": [0.5] * 3, "std": [0.5] * 3, "flip": flip,
                                       "align": False}
    other = expected(net, images, "bgr" if channels == "rgb" else "rgb", flip)[0]
    assert not np.allclose(got, other, atol=1e-3)   # the channel order really matters here


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_align_then_score_from_uncropped_photos(tmp_path, kind):
    """The 'done when' for a user model: uncropped photos → --align → init → score."""
    pytest.importorskip("dlib")
    if kind == "onnx":
        pytest.importorskip("onnxruntime")
    photos = photo_folder(tmp_path / "photos", variants=("orig", "small"))
    net = TinyFaceNet()
    model = export(net, tmp_path / f"net.{kind}", kind)
    proj = tmp_path / "p"
    assert main(["init", str(proj), "--images", str(photos), "--model", str(model), "--align",
                 "--input-size", str(SIZE), "--mean", "127.5", "--std", "127.5", "-q"]) == 0
    assert main(["score", str(proj), "-q"]) == 0
    rows = _manifest(proj)
    assert len(rows) == 2 * len(PEOPLE) and all(r["faces_in_photo"] == "1" for r in rows)
    images = [np.asarray(Image.open(proj / r["path"])) for r in rows]
    assert images[0].shape == (SIZE, SIZE, 3)
    with Project.open(proj, read_only=True) as p:
        np.testing.assert_allclose(np.asarray(p.embeddings()),
                                   expected(net, images, "rgb", "none")[0], rtol=1e-4,
                                   atol=1e-5)
        assert p.latest_run("score") is not None


def test_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 200, size=(5, 2))
    angle, scale, shift = 0.3, 0.45, np.array([12.0, -7.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-10)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_warp_puts_the_five_points_on_the_arcface_template():
    """Bright dots at five 'landmarks' of a rotated, scaled face land on the template points."""
    tpl = arcface_template(112)
    angle = 0.25
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = 2.2 * tpl @ rot.T + np.array([60.0, 20.0])   # where they are in a 400×400 photo
    img = np.zeros((400, 400, 3), dtype=np.uint8)
    for x, y in np.round(pts).astype(int):
        img[y - 2:y + 3, x - 2:x + 3] = 255
    out = warp_affine(img, similarity_transform(np.round(pts), tpl), 112).astype(float)[..., 0]
    for tx, ty in tpl:
        y0, x0 = int(round(ty)), int(round(tx))
        win = out[y0 - 4:y0 + 5, x0 - 4:x0 + 5]
        yy, xx = np.mgrid[y0 - 4:y0 + 5, x0 - 4:x0 + 5]
        cy, cx = (win * yy).sum() / win.sum(), (win * xx).sum() / win.sum()
        assert abs(cx - tx) < 0.7 and abs(cy - ty) < 0.7


# ----------------------------------------------------------------------------- bad input
def _init_error(capsys, *args) -> str:
    rc = main(["init", *map(str, args), "-q"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_file_that_is_neither_torchscript_nor_onnx(crops, tmp_path, capsys):
    text = tmp_path / "model.onnx"
    text.write_text("hello")
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", text)
    assert "neither a TorchScript nor an ONNX model" in line and "torch.jit.script" in line
    ckpt = tmp_path / "weights.pt"
    torch.save(TinyFaceNet().state_dict(), ckpt)
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", ckpt)
    assert "not a TorchScript model" in line and "weights.pt" in line
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model",
                       tmp_path / "missing.pt")
    assert "does not exist" in line


def test_an_output_that_is_not_2d(crops, tmp_path, capsys):
    model = export(TinyFaceNet(out_4d=True), tmp_path / "fm.pt", "pt")
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", model,
                       "--input-size", SIZE)
    assert "(2, 4, 15, 15)" in line and "2-D" in line


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_an_input_size_the_model_rejects(crops, tmp_path, capsys, kind):
    if kind == "onnx":
        pytest.importorskip("onnxruntime")
    model = export(TinyFaceNet(), tmp_path / f"net.{kind}", kind)
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", model)
    assert "112" in line and "--input-size" in line
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("module,model,extra", [("dlib", "dlib", "dlib"),
                                                ("onnxruntime", "net.onnx", "onnx")])
def test_a_missing_extra_names_the_pip_command(crops, tmp_path, capsys, monkeypatch, module,
                                               model, extra):
    if model != "dlib":
        pytest.importorskip("onnx")
        model = export(TinyFaceNet(), tmp_path / model, "onnx")
    monkeypatch.setitem(sys.modules, module, None)   # `import dlib` now raises ImportError
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", model,
                       "--input-size", SIZE)
    assert f"pip install 'fiqa-gui[{extra}]'" in line


def test_bad_preprocessing_options(crops, tmp_path, capsys):
    model = export(TinyFaceNet(), tmp_path / "net.pt", "pt")
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", model,
                       "--mean", "0.5,0.5")
    assert "--mean takes one value or three" in line
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", model,
                       "--embeddings", tmp_path / "e.npy")
    assert "--model computes the embeddings" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_device_cuda_without_cuda(crops, tmp_path, capsys):
    model = export(TinyFaceNet(), tmp_path / "net.pt", "pt")
    line = _init_error(capsys, tmp_path / "p", "--images", crops, "--model", model,
                       "--input-size", SIZE, "--device", "cuda")
    assert "no CUDA device" in line
