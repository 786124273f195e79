"""Image degradations for the demo data: pure functions of (image, strength, rng).

Every function takes an RGB `PIL.Image`, a strength in [0, 1] (0 = untouched, 1 = the worst the
demo produces) and a `numpy.random.Generator` (used only by the kinds that need randomness), and
returns a new RGB image of the same size. Kind names: ``blur``, ``noise``, ``lowres``, ``jpeg``,
``occlusion``, ``underexposed``, ``overexposed``; ``none`` is the identity.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Degrader = Callable[[Image.Image, float, np.random.Generator], Image.Image]


def _s(strength: float) -> float:
    return float(np.clip(strength, 0.0, 1.0))


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")


def blur(img: Image.Image, strength: float, rng: np.random.Generator | None = None) -> Image.Image:
    """Gaussian blur, radius 0.6 .. 4 px (on a 112 px crop)."""
    return img.filter(ImageFilter.GaussianBlur(0.6 + 3.4 * _s(strength)))


def noise(img: Image.Image, strength: float, rng: np.random.Generator) -> Image.Image:
    """Additive Gaussian sensor noise, sigma 6 .. 50 grey levels (per channel)."""
    arr = np.asarray(img, dtype=np.float32)
    sigma = 6.0 + 44.0 * _s(strength)
    return _to_image(arr + rng.normal(0.0, sigma, arr.shape).astype(np.float32))


def lowres_side(strength: float, size: int) -> int:
    """The side length the image is reduced to before being scaled back up."""
    return max(12, int(round(size * (1.0 - 0.86 * _s(strength)))))


def lowres(img: Image.Image, strength: float, rng: np.random.Generator | None = None):
    """Downscale (box filter) to 112 .. ~16 px, then upscale back (bicubic)."""
    w, h = img.size
    side = lowres_side(strength, min(w, h))
    small = img.resize((max(1, side * w // min(w, h)), max(1, side * h // min(w, h))), Image.BOX)
    return small.resize((w, h), Image.BICUBIC)


def jpeg_quality(strength: float) -> int:
    """The JPEG quality used for a strength: 35 (mild) .. 3 (blocky)."""
    return max(3, int(round(35 - 32 * _s(strength))))


def jpeg(img: Image.Image, strength: float, rng: np.random.Generator | None = None):
    """Encode as low-quality JPEG and decode again."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=jpeg_quality(strength))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def occlusion(img: Image.Image, strength: float, rng: np.random.Generator) -> Image.Image:
    """An occluder over part of the face: a bar over the eyes, a mask over the lower face, or a
    block from one side (a hand, a microphone). It grows with strength."""
    s = _s(strength)
    w, h = img.size
    out = img.copy()
    d = ImageDraw.Draw(out)
    grey = int(rng.integers(10, 90))
    colour = tuple(int(c) for c in np.clip(grey + rng.integers(-10, 60, 3), 0, 255))
    mode = int(rng.integers(3))
    if mode == 0:  # bar over the eyes
        cy = h * rng.uniform(0.40, 0.47)
        half = h * (0.05 + 0.12 * s)
        d.rectangle((w * 0.08, cy - half, w * 0.92, cy + half), fill=colour)
    elif mode == 1:  # mask over the lower face
        top = h * (0.74 - 0.3 * s)
        d.rounded_rectangle((w * 0.2, top, w * 0.8, h * 0.92), radius=w * 0.08, fill=colour)
    else:  # block from one side
        width = w * (0.2 + 0.35 * s)
        y0 = h * rng.uniform(0.3, 0.45)
        box = (
            (0, y0, width, y0 + h * 0.45)
            if rng.random() < 0.5
            else (w - width, y0, w, y0 + h * 0.45)
        )
        d.rounded_rectangle(box, radius=w * 0.1, fill=colour)
    return out


def underexposed(img: Image.Image, strength: float, rng: np.random.Generator | None = None):
    """Darken: gamma 1 .. 2.2 then gain 1 .. 0.15."""
    s = _s(strength)
    x = np.asarray(img, dtype=np.float32) / 255.0
    return _to_image(255.0 * (x ** (1.0 + 1.2 * s)) * (1.0 - 0.85 * s))


def overexposed(img: Image.Image, strength: float, rng: np.random.Generator | None = None):
    """Brighten with clipping: gain 1 .. 3.5, then a lifting gamma."""
    s = _s(strength)
    x = np.clip(np.asarray(img, dtype=np.float32) / 255.0 * (1.0 + 2.5 * s), 0.0, 1.0)
    return _to_image(255.0 * x ** (1.0 / (1.0 + 0.8 * s)))


def none(img: Image.Image, strength: float = 0.0, rng: np.random.Generator | None = None):
    """No degradation (a copy)."""
    return img.copy()


DEGRADERS: dict[str, Degrader] = {
    "none": none,
    "blur": blur,
    "noise": noise,
    "lowres": lowres,
    "jpeg": jpeg,
    "occlusion": occlusion,
    "underexposed": underexposed,
    "overexposed": overexposed,
}


def degrade(img: Image.Image, kind: str, strength: float, rng: np.random.Generator):
    """Apply the degradation `kind` at `strength`."""
    try:
        fn = DEGRADERS[kind]
    except KeyError:
        raise ValueError(f"unknown degradation kind {kind!r}; known: {sorted(DEGRADERS)}") from None
    return fn(img, strength, rng)


def near_copy(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A near-identical copy: resized away and back, shifted a pixel or two, brightness +-3%."""
    w, h = img.size
    side = int(rng.integers(int(w * 0.8), int(w * 1.3)))
    out = img.resize((side, side), Image.BICUBIC).resize((w, h), Image.BICUBIC)
    dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
    out = out.transform(
        (w, h),
        Image.AFFINE,
        (1, 0, -dx, 0, 1, -dy),
        resample=Image.BILINEAR,
        fillcolor=out.getpixel((0, 0)),
    )
    arr = np.asarray(out, dtype=np.float32) * rng.uniform(0.97, 1.03)
    return _to_image(arr)
