"""How a crop becomes the model's input tensor, recorded so the embeddings can be reproduced.

The published tools differ exactly here (BGR vs RGB, normalisation, flips), so every choice is
explicit and stored with the project. Defaults are the ArcFace/InsightFace convention used by
SDD-FIQA and CR-FIQA: 112×112 RGB, (x/255 − 0.5)/0.5, no flip. Mean and std are on the 0–1 scale
of x/255 and in the model's channel order; values above 1 are read as 0–255 units (so
`--mean 123.675,116.28,103.53` works as printed in torchvision-style recipes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fiqa_gui.core.errors import UserInputError

FLIPS = ("none", "sum", "concat")
CHANNELS = ("rgb", "bgr")


def _three(values, option: str) -> tuple[float, float, float]:
    vals = tuple(float(v) for v in values)
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3:
        raise UserInputError(f"{option} takes one value or three (one per channel), got "
                             f"{len(vals)}", fix=f"e.g. {option} 0.5 or {option} 0.5,0.5,0.5")
    if any(v > 1.0 for v in vals):
        vals = tuple(v / 255.0 for v in vals)
    return vals  # type: ignore[return-value]


@dataclass(frozen=True)
class Preprocessing:
    """The input recipe of a user model (dlib's own recipe is fixed: 150×150 RGB chips)."""

    input_size: int = 112
    channels: str = "rgb"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    flip: str = "none"
    align: bool = False

    @classmethod
    def make(cls, *, input_size: int = 112, channels: str = "rgb", mean=(0.5,), std=(0.5,),
             flip: str = "none", align: bool = False) -> Preprocessing:
        """Validated construction from user-facing values (CLI options, dialog fields)."""
        if not 8 <= int(input_size) <= 1024:
            raise UserInputError(f"--input-size must be between 8 and 1024 pixels "
                                 f"(got {input_size})", fix="e.g. --input-size 112")
        channels = str(channels).lower()
        if channels not in CHANNELS:
            raise UserInputError(f"--channels must be rgb or bgr (got {channels!r})",
                                 fix="--channels bgr for models trained on OpenCV-read images")
        if flip not in FLIPS:
            raise UserInputError(f"--flip must be one of {', '.join(FLIPS)} (got {flip!r})",
                                 fix="--flip sum adds the embedding of the mirrored crop")
        std3 = _three(std, "--std")
        if any(s <= 0 for s in std3):
            raise UserInputError("--std values must be positive", fix="e.g. --std 0.5")
        return cls(int(input_size), channels, _three(mean, "--mean"), std3, flip, bool(align))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    def describe(self) -> str:
        return (f"{self.input_size}×{self.input_size} {self.channels.upper()}, "
                f"(x/255 − {_fmt(self.mean)})/{_fmt(self.std)}, flip {self.flip}, "
                f"{'aligned (ArcFace 5-point)' if self.align else 'pre-aligned crops'}")


def _fmt(v: tuple[float, ...]) -> str:
    return f"{v[0]:g}" if len(set(v)) == 1 else "(" + ",".join(f"{x:.4g}" for x in v) + ")"


def to_model_input(crops: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """N×S×S×3 uint8 RGB crops → N×3×S×S float32 in the model's channel order, normalised."""
    x = crops.astype(np.float32) / 255.0
    if pre.channels == "bgr":
        x = x[..., ::-1]
    x = (x - np.asarray(pre.mean, dtype=np.float32)) / np.asarray(pre.std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
