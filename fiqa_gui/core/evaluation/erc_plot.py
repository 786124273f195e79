"""The ERC chart as a PNG, drawn with Pillow (no Qt, no plotting library): FNMR against the
rejected fraction, one colour per label source, one line style per FMR, the AUC in the legend.
The window draws the same curves with pyqtgraph in the same colours (`source_colour`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fiqa_gui.core.evaluation.erc import ErcResult

# fixed colours for the usual sources (colour-blind-safe Okabe-Ito), then a cycle for the rest
SOURCE_COLOURS = {"quality": (0, 114, 178), "curated": (0, 158, 115), "sdd": (213, 94, 0),
                  "cr": (204, 121, 167), "iq": (230, 159, 0), "random": (120, 120, 120),
                  "learned": (100, 50, 160)}
_CYCLE = [(86, 180, 233), (240, 228, 66), (0, 0, 0), (150, 75, 0)]


def source_colour(name: str, index: int = 0) -> tuple[int, int, int]:
    """The colour of a source, by its column name (`sdd@2` is drawn like `sdd`)."""
    base = name.partition("@")[0]
    return SOURCE_COLOURS.get(base, _CYCLE[index % len(_CYCLE)])


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _nice_top(v: float) -> float:
    if not math.isfinite(v) or v <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= v:
            return min(m * step, 1.0) if v <= 1 else m * step
    return v


def _dashed(draw: ImageDraw.ImageDraw, pts, fill, width: int, dash: int) -> None:
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        n = max(int(length // dash), 1)
        for k in range(0, n, 2):
            t0, t1 = k / n, min((k + 1) / n, 1.0)
            draw.line([(x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0),
                       (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)], fill=fill, width=width)


def render_erc_png(result: ErcResult, out: str | Path, *, size: tuple[int, int] = (1000, 640),
                   title: str | None = None) -> Path:
    """Draw every curve of `result` into the PNG `out` (written as given; callers make it
    atomic)."""
    w, h = size
    left, right, top, bottom = 80, 250, 50, 60
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    font, small = _font(15), _font(12)
    fr = result.reject_fractions
    x_max = float(fr[-1]) if len(fr) else 1.0
    finite = [float(np.nanmax(c.fnmr_high if c.fnmr_high is not None else c.fnmr))
              for c in result.curves if np.isfinite(c.fnmr).any()]
    y_top = _nice_top(max(finite) if finite else 1.0)

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + x / x_max * (w - left - right),
                top + (1 - y / y_top) * (h - top - bottom))

    # grid, axes and ticks
    for k in range(6):
        y = y_top * k / 5
        _, py = px(0, y)
        d.line([(left, py), (w - right, py)], fill=(230, 230, 230))
        d.text((left - 8, py), f"{y:.3g}", fill=(60, 60, 60), font=small, anchor="rm")
    for k in range(0, 10):
        x = k / 10
        if x > x_max + 1e-9:
            break
        qx, _ = px(x, 0)
        d.line([(qx, top), (qx, h - bottom)], fill=(240, 240, 240))
        d.text((qx, h - bottom + 8), f"{x:.1f}", fill=(60, 60, 60), font=small, anchor="mt")
    d.rectangle([left, top, w - right, h - bottom], outline=(90, 90, 90))
    d.text(((left + w - right) / 2, h - 22), "fraction of pairs rejected (lowest quality first)",
           fill=(30, 30, 30), font=font, anchor="mm")
    d.text((14, (top + h - bottom) / 2), "FNMR", fill=(30, 30, 30), font=font, anchor="lm")
    heading = title or (f"Error-versus-reject, {result.variant} threshold: "
                        f"{result.genuine_pairs:,} genuine / {result.impostor_pairs:,} impostor "
                        "pairs")
    d.text((left, 18), heading, fill=(20, 20, 20), font=font)

    # curves: colour per source, solid for the first FMR, dashed for the others
    fmrs = result.fmrs
    ly = top
    for c in result.curves:
        colour = source_colour(c.source, result.sources.index(c.source))
        style = fmrs.index(c.fmr)
        pts = [px(float(x), float(y)) for x, y in zip(fr, c.fnmr, strict=True) if np.isfinite(y)]
        if len(pts) >= 2:
            if style == 0:
                d.line(pts, fill=colour, width=3, joint="curve")
            else:
                _dashed(d, pts, colour, 2, 6 + 4 * style)
        for p in pts:
            d.ellipse([p[0] - 2.5, p[1] - 2.5, p[0] + 2.5, p[1] + 2.5], fill=colour)
        lx = w - right + 16
        if style == 0:
            d.line([(lx, ly + 8), (lx + 26, ly + 8)], fill=colour, width=3)
        else:
            _dashed(d, [(lx, ly + 8), (lx + 26, ly + 8)], colour, 2, 6 + 4 * style)
        interval = (f" [{c.auc_interval[0]:.3f}, {c.auc_interval[1]:.3f}]"
                    if c.auc_interval else "")
        d.text((lx + 34, ly), f"{c.source} @ FMR {c.fmr:g}", fill=(20, 20, 20), font=small)
        d.text((lx + 34, ly + 15), f"AUC {c.auc:.4f}{interval}", fill=(80, 80, 80), font=small)
        ly += 36
    out = Path(out)
    img.save(out, format="PNG")
    return out
