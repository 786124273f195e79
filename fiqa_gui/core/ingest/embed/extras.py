"""The optional packages behind face detection and user models, imported only when needed.

A missing extra is the user's to fix, so it becomes a `UserInputError` naming the pip command.
`face_recognition_models` is located without importing it: its `__init__` needs
`pkg_resources`, which recent setuptools no longer ship.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fiqa_gui.core.errors import UserInputError

DLIB_FIX = "pip install 'fiqa-gui[dlib]' (prebuilt dlib and its pretrained models)."
ONNX_FIX = "pip install 'fiqa-gui[onnx]' (onnxruntime)."
MODEL_FILES = {
    "detector_cnn": "mmod_human_face_detector.dat",
    "landmarks_5": "shape_predictor_5_face_landmarks.dat",
    "landmarks_68": "shape_predictor_68_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
}


def import_dlib():
    """The `dlib` module, or a `UserInputError` naming the extra to install."""
    try:
        import dlib
    except ImportError:
        raise UserInputError("face detection needs dlib, which is not installed",
                             fix=DLIB_FIX) from None
    return dlib


def dlib_model_file(kind: str) -> Path:
    """Path of one of dlib's pretrained model files shipped in `face_recognition_models`."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError("dlib's pretrained models (face_recognition_models) are not "
                             "installed", fix=DLIB_FIX)
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILES[kind]
    if not path.is_file():
        raise UserInputError("a dlib model file is missing from face_recognition_models",
                             file=path, fix=f"reinstall it: {DLIB_FIX}")
    return path


def import_onnxruntime():
    """The `onnxruntime` module, or a `UserInputError` naming the extra to install."""
    try:
        import onnxruntime
    except ImportError:
        raise UserInputError("ONNX models need onnxruntime, which is not installed",
                             fix=ONNX_FIX) from None
    return onnxruntime


def dlib_available() -> bool:
    """True when both dlib and its model files are installed (for the dialog's choices)."""
    return (importlib.util.find_spec("dlib") is not None
            and importlib.util.find_spec("face_recognition_models") is not None)
