"""The embedding models: dlib's pretrained ResNet, or the user's TorchScript or ONNX network.

Each takes a batch of aligned crops (N×S×S×3 uint8 RGB) and returns the raw embeddings (N×d
float32, as the model gives them: no normalisation) and each one's L2 norm. A user model is
probed once on open with a 2-image batch, so a wrong input size or an output that is not
batch × dimensions is reported before any photo is read. With `flip`, the mirrored crop is
embedded too and summed or concatenated (as the CR-FIQA evaluation does); the norm is always
that of the unflipped crop's raw output (the quality a MagFace-style model encodes in it).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.embed.alignment import DLIB_CHIP_SIZE
from fiqa_gui.core.ingest.embed.extras import dlib_model_file, import_dlib, import_onnxruntime
from fiqa_gui.core.ingest.embed.preprocessing import Preprocessing, to_model_input

EXPORT_FIX = ("export the network itself: torch.jit.script(model).save('model.pt') or "
              "torch.onnx.export(model, x, 'model.onnx').")


class EmbeddingModel(Protocol):
    kind: str          # dlib | torchscript | onnx
    device: str
    input_size: int    # crops are this many pixels square
    dim: int

    def embed(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def describe(self) -> dict: ...


def _norms(y: np.ndarray) -> np.ndarray:
    return np.linalg.norm(y.astype(np.float64), axis=1).astype(np.float32)


class DlibDescriptor:
    """dlib's 128-d face descriptor (ResNet, LFW 99.38 %) on its own 150×150 chips; CPU only."""

    kind = "dlib"
    input_size = DLIB_CHIP_SIZE
    dim = 128

    def __init__(self, device: str = "auto") -> None:
        dlib = import_dlib()
        if device == "cuda" and not getattr(dlib, "DLIB_USE_CUDA", False):
            raise UserInputError("this dlib was built without CUDA; it runs on the CPU",
                                 fix="leave --device at auto (or cpu) for --model dlib.")
        self.device = "cuda" if getattr(dlib, "DLIB_USE_CUDA", False) else "cpu"
        self.net = dlib.face_recognition_model_v1(str(dlib_model_file("descriptor")))
        self.version = getattr(dlib, "__version__", "?")

    def embed(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chips = [np.ascontiguousarray(c) for c in crops]
        y = np.array([np.asarray(self.net.compute_face_descriptor(c)) for c in chips],
                     dtype=np.float32).reshape(len(chips), self.dim)
        return y, _norms(y)

    def describe(self) -> dict:
        return {"kind": "dlib", "model": "dlib_face_recognition_resnet_model_v1",
                "dlib_version": self.version, "input": "150×150 RGB chip, "
                "get_face_chip(size=150, padding=0.25) from 5-point landmarks"}


class _UserModel:
    """What TorchScript and ONNX models share: preprocessing, flips, the probe."""

    kind = ""

    def __init__(self, path: Path, pre: Preprocessing) -> None:
        self.path = path
        self.pre = pre
        self.input_size = pre.input_size
        self.dim = 0

    def _forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _checked_forward(self, x: np.ndarray) -> np.ndarray:
        y = self._forward(x)
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise UserInputError(
                f"the model's output has shape {tuple(y.shape)} for a batch of {x.shape[0]}; "
                "an embedding model must return batch × dimensions (2-D)", file=self.path,
                fix="export the network up to the embedding layer (no classifier head, "
                "one output).")
        return y

    def probe(self) -> None:
        s = self.pre.input_size
        x = np.zeros((2, 3, s, s), dtype=np.float32)
        try:
            y = self._checked_forward(x)
        except UserInputError:
            raise
        except Exception as err:  # noqa: BLE001 - the model's own message is the explanation
            first = next((ln.strip() for ln in str(err).splitlines()
                          if ln.strip() and not ln.startswith("Traceback")), type(err).__name__)
            raise UserInputError(
                f"the model rejects a 2×3×{s}×{s} input ({first[:200]})", file=self.path,
                fix="pass the crop size it was trained on with --input-size.") from None
        if not np.isfinite(y).all():
            raise UserInputError("the model returns NaN or infinite values", file=self.path,
                                 fix="check the exported model in Python first.")
        self.dim = int(y.shape[1]) * (2 if self.pre.flip == "concat" else 1)

    def embed(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = to_model_input(crops, self.pre)
        y = self._checked_forward(x).astype(np.float32)
        norms = _norms(y)
        if self.pre.flip != "none":
            yf = self._checked_forward(np.ascontiguousarray(x[..., ::-1])).astype(np.float32)
            y = y + yf if self.pre.flip == "sum" else np.concatenate([y, yf], axis=1)
        return y, norms

    def describe(self) -> dict:
        st = self.path.stat()
        return {"kind": self.kind, "model": str(self.path), "size_bytes": st.st_size,
                "preprocessing": self.pre.to_dict(), "device": self.device}


class TorchScriptModel(_UserModel):
    kind = "torchscript"

    def __init__(self, path: Path, pre: Preprocessing, device: str = "auto") -> None:
        super().__init__(path, pre)
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise UserInputError("--device cuda was asked for but torch sees no CUDA device",
                                 fix="use --device cpu (or auto), or install a CUDA build "
                                 "of torch.")
        if device not in ("cpu", "cuda"):
            raise UserInputError(f"unknown --device {device!r}", fix="use auto, cpu or cuda.")
        self.device = device
        self.torch = torch
        try:
            self.module = torch.jit.load(str(path), map_location=device).eval()
        except Exception as err:  # noqa: BLE001
            raise UserInputError(f"the file is a zip archive but not a TorchScript model "
                                 f"({str(err).splitlines()[0][:120]})", file=path,
                                 fix=EXPORT_FIX) from None
        self.probe()

    def _forward(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            y = self.module(torch.from_numpy(x).to(self.device))
            if isinstance(y, (tuple, list)) and y:
                y = y[0]
            if not isinstance(y, torch.Tensor):
                raise UserInputError(f"the model returns {type(y).__name__}, not a tensor",
                                     file=self.path, fix="return the embedding tensor.")
            return y.float().cpu().numpy()


class OnnxModel(_UserModel):
    kind = "onnx"

    def __init__(self, path: Path, pre: Preprocessing, device: str = "auto") -> None:
        super().__init__(path, pre)
        ort = import_onnxruntime()
        available = ort.get_available_providers()
        has_cuda = "CUDAExecutionProvider" in available
        if device == "cuda" and not has_cuda:
            raise UserInputError("--device cuda was asked for but onnxruntime has no CUDA "
                                 "provider here", fix="use --device cpu, or install "
                                 "onnxruntime-gpu.")
        if device not in ("auto", "cpu", "cuda"):
            raise UserInputError(f"unknown --device {device!r}", fix="use auto, cpu or cuda.")
        use_cuda = has_cuda and device in ("auto", "cuda")
        providers = (["CUDAExecutionProvider"] if use_cuda else []) + ["CPUExecutionProvider"]
        self.device = "cuda" if use_cuda else "cpu"
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as err:  # noqa: BLE001
            raise UserInputError(f"the file is neither a TorchScript nor an ONNX model "
                                 f"(onnxruntime: {str(err).splitlines()[0][:120]})", file=path,
                                 fix=EXPORT_FIX) from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.half = inp.type == "tensor(float16)"
        shape = list(inp.shape)
        if len(shape) == 4 and all(isinstance(v, int) for v in shape[2:]) \
                and tuple(shape[2:]) != (pre.input_size, pre.input_size):
            raise UserInputError(
                f"the model takes {shape[2]}×{shape[3]} crops, not "
                f"{pre.input_size}×{pre.input_size}", file=path,
                fix=f"pass --input-size {shape[2]}.")
        self.batch_one = len(shape) >= 1 and shape[0] == 1
        self.probe()

    def _forward(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float16) if self.half else x
        if self.batch_one and x.shape[0] != 1:  # exported with a fixed batch of 1
            return np.concatenate([self._forward(x[i:i + 1]) for i in range(x.shape[0])])
        y = self.session.run(None, {self.input_name: x})[0]
        return np.asarray(y, dtype=np.float32)


def model_kind(path: Path) -> str:
    """'torchscript' or 'onnx', from the file's content (the name's suffix is not trusted)."""
    if not path.is_file():
        raise UserInputError("the model file does not exist", file=path,
                             fix="pass --model dlib, or a TorchScript (.pt) or ONNX (.onnx) file.")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        raise UserInputError(
            "the file is a torch checkpoint (weights or a pickled module), not a TorchScript "
            "model: it holds no network code to run", file=path, fix=EXPORT_FIX)
    with open(path, "rb") as f:
        head = f.read(1)
    if head == b"\x08":  # an ONNX ModelProto starts with its ir_version field
        return "onnx"
    raise UserInputError("the file is neither a TorchScript nor an ONNX model", file=path,
                         fix=EXPORT_FIX)


def open_model(model: str | Path, pre: Preprocessing | None = None,
               device: str = "auto") -> EmbeddingModel:
    """`'dlib'` or a model file; probed and ready to embed crops."""
    if str(model).lower() == "dlib":
        return DlibDescriptor(device)
    path = Path(model)
    pre = pre or Preprocessing()
    kind = model_kind(path)
    return TorchScriptModel(path, pre, device) if kind == "torchscript" \
        else OnnxModel(path, pre, device)
