"""Procedural cartoon faces: one appearance per identity, rendered under varying pose and light.

An `Appearance` fixes what makes an identity recognisable (head shape, feature geometry, colours,
eyebrows, glasses, beard, hair style); a `View` fixes what varies between photos of that identity
(yaw, roll, expression, lighting, background, clothes, framing jitter). `render_face` draws the face
with Pillow at twice the output size and downsamples, giving an aligned-crop-like RGB image.

Yaw is modelled on a cylinder: a feature at horizontal face coordinate u sits at angle asin(u) and
is drawn at sin(asin(u) + yaw), narrowed by the cosine ratio, so turned faces shift and squash their
features. ``yaw < 0`` turns the face toward the image's left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

OUT_SIZE = 112
_SS = 2  # supersampling factor

_SKIN = [
    (255, 224, 196),
    (241, 194, 160),
    (224, 172, 132),
    (198, 134, 96),
    (161, 102, 68),
    (120, 76, 50),
    (88, 56, 38),
    (250, 208, 170),
]
_HAIR = [
    (24, 20, 18),
    (60, 40, 28),
    (104, 68, 40),
    (170, 124, 72),
    (222, 190, 120),
    (160, 70, 30),
    (140, 140, 140),
    (225, 225, 225),
    (40, 40, 60),
]
_EYES = [(80, 50, 30), (50, 100, 170), (70, 120, 70), (120, 120, 130), (130, 100, 50)]
_GLASSES = [(20, 20, 20), (120, 60, 30), (180, 30, 30), (30, 60, 150), (170, 170, 180)]


@dataclass(frozen=True)
class Appearance:
    """The fixed look of one identity (all lengths in face units, colours as RGB tuples)."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    eye: tuple[int, int, int]
    lip: tuple[int, int, int]
    face_rx: float  # half-width of the head, fraction of the image width
    face_ry: float  # half-height of the head, fraction of the image height
    chin: float  # 0 = round jaw, 1 = narrow pointed chin
    eye_u: float  # horizontal half-distance between eyes (face units, 1 = head half-width)
    eye_v: float  # vertical eye position (face units, 0 = centre, +1 = chin)
    eye_w: float
    eye_h: float
    brow_gap: float
    brow_thick: float
    brow_tilt: float  # degrees, positive = outer end higher
    nose_v: float
    nose_len: float
    nose_w: float
    mouth_v: float
    mouth_w: float
    lip_thick: float
    hair_style: int  # 0 short, 1 long, 2 shaved, 3 curly volume
    fringe: float  # how far hair reaches down the forehead (face units)
    parting: float  # where the fringe is highest (face units, -1 .. 1)
    glasses: int  # 0 none, 1 round, 2 rectangular
    glasses_colour: tuple[int, int, int]
    beard: int  # 0 none, 1 full beard, 2 moustache
    mole: tuple[float, float] | None


@dataclass(frozen=True)
class View:
    """What changes between two photos of the same identity."""

    yaw: float = 0.0  # degrees
    roll: float = 0.0  # degrees
    smile: float = 0.0  # 0 neutral .. 1 broad smile (negative: slight frown)
    eye_open: float = 0.9  # 0 closed .. 1 wide open
    light_angle: float = 0.0  # radians, direction the light comes from
    light_amp: float = 0.0  # 0 = even light; ~0.5 = strong side light
    dim: float = 1.0  # overall brightness factor of the scene light (1 = normal)
    background: tuple[int, int, int] = (200, 205, 210)
    shirt: tuple[int, int, int] = (70, 90, 140)
    shift: tuple[float, float] = (0.0, 0.0)  # framing jitter, fraction of the image size
    scale: float = 1.0  # framing jitter of the head size


def _jitter(rng: np.random.Generator, colour, amount: int) -> tuple[int, int, int]:
    c = np.asarray(colour, dtype=float) + rng.uniform(-amount, amount, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def random_appearance(rng: np.random.Generator) -> Appearance:
    """Draw an identity's look; call with a generator seeded by the identity alone."""
    skin = _jitter(rng, _SKIN[rng.integers(len(_SKIN))], 12)
    hair = _jitter(rng, _HAIR[rng.integers(len(_HAIR))], 15)
    lip = _jitter(rng, (int(skin[0] * 0.8 + 30), int(skin[1] * 0.5), int(skin[2] * 0.5)), 10)
    beard_p = rng.random()
    return Appearance(
        skin=skin,
        hair=hair,
        eye=_jitter(rng, _EYES[rng.integers(len(_EYES))], 15),
        lip=lip,
        face_rx=float(rng.uniform(0.24, 0.31)),
        face_ry=float(rng.uniform(0.31, 0.38)),
        chin=float(rng.uniform(0.0, 1.0)),
        eye_u=float(rng.uniform(0.33, 0.48)),
        eye_v=float(rng.uniform(-0.22, -0.04)),
        eye_w=float(rng.uniform(0.17, 0.25)),
        eye_h=float(rng.uniform(0.08, 0.12)),
        brow_gap=float(rng.uniform(0.1, 0.2)),
        brow_thick=float(rng.uniform(0.025, 0.06)),
        brow_tilt=float(rng.uniform(-18, 18)),
        nose_v=float(rng.uniform(0.14, 0.3)),
        nose_len=float(rng.uniform(0.14, 0.28)),
        nose_w=float(rng.uniform(0.08, 0.16)),
        mouth_v=float(rng.uniform(0.44, 0.6)),
        mouth_w=float(rng.uniform(0.28, 0.5)),
        lip_thick=float(rng.uniform(0.025, 0.06)),
        hair_style=int(rng.choice(4, p=[0.4, 0.3, 0.12, 0.18])),
        fringe=float(rng.uniform(-0.75, -0.35)),
        parting=float(rng.uniform(-0.5, 0.5)),
        glasses=int(rng.choice(3, p=[0.75, 0.13, 0.12])),
        glasses_colour=_GLASSES[rng.integers(len(_GLASSES))],
        beard=0 if beard_p < 0.78 else (1 if beard_p < 0.9 else 2),
        mole=(float(rng.uniform(-0.6, 0.6)), float(rng.uniform(0.0, 0.5)))
        if rng.random() < 0.2
        else None,
    )


class _Frame:
    """Maps face coordinates (u, v in head half-widths/half-heights) to canvas pixels under yaw."""

    def __init__(self, app: Appearance, view: View, size: int) -> None:
        self.size = size
        self.rx = app.face_rx * size * view.scale
        self.ry = app.face_ry * size * view.scale
        self.cx = size * (0.5 + view.shift[0])
        self.cy = size * (0.53 + view.shift[1])
        self.yaw = math.radians(view.yaw)

    def x(self, u: float, depth: float = 1.0) -> float:
        """Projected x of a feature at u; `depth` > 1 for features that stick out (the nose)."""
        phi = math.asin(max(-0.95, min(0.95, u * 0.92)))
        return self.cx + self.rx * depth * math.sin(phi + self.yaw) + self.rx * 0.06 * self.yaw

    def squash(self, u: float) -> float:
        """Horizontal foreshortening of a feature at u (1 = seen head-on)."""
        phi = math.asin(max(-0.95, min(0.95, u * 0.92)))
        return max(0.15, math.cos(phi + self.yaw)) / max(0.3, math.cos(phi))

    def y(self, v: float) -> float:
        return self.cy + self.ry * v

    def px(self, length: float) -> float:
        return length * self.rx


def _head_polygon(fr: _Frame, chin: float, grow: float = 1.0, n: int = 72) -> list[tuple]:
    pts = []
    shift = fr.rx * 0.12 * math.sin(fr.yaw)
    for i in range(n):
        t = 2 * math.pi * i / n
        sx, sy = math.cos(t), math.sin(t)
        # lower half narrows toward the chin
        narrow = 1.0 - (0.22 + 0.18 * chin) * max(0.0, sy) ** 2
        px_ = fr.cx + shift + grow * fr.rx * sx * narrow
        py_ = fr.cy + grow * fr.ry * sy
        pts.append((px_, py_))
    return pts


def _shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, c * factor))) for c in colour)


def _draw_hair_back(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance) -> None:
    rx, ry, cx, cy = fr.rx, fr.ry, fr.cx + fr.rx * 0.1 * math.sin(fr.yaw), fr.cy
    if app.hair_style == 1:  # long hair falling behind the shoulders
        d.rounded_rectangle(
            (cx - rx * 1.22, cy - ry * 0.9, cx + rx * 1.22, cy + ry * 1.35),
            radius=rx * 0.6,
            fill=app.hair,
        )
    if app.hair_style == 3:  # curly volume
        for k in range(9):
            a = math.pi * (1.05 + 0.9 * k / 8)
            ox, oy = cx + rx * 1.02 * math.cos(a), cy - ry * 0.2 + ry * 0.95 * math.sin(a)
            r = rx * 0.38
            d.ellipse((ox - r, oy - r, ox + r, oy + r), fill=app.hair)
    if app.hair_style != 2:
        d.ellipse((cx - rx * 1.07, cy - ry * 1.1, cx + rx * 1.07, cy + ry * 0.35), fill=app.hair)


def _draw_ears(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance) -> None:
    for side in (-1, 1):
        inward = max(0.0, side * math.sin(fr.yaw))
        ex = fr.cx + side * fr.rx * (0.98 - 0.7 * inward)
        ey = fr.y(app.eye_v + 0.12)
        w, h = fr.rx * 0.16, fr.ry * 0.2
        d.ellipse((ex - w, ey - h, ex + w, ey + h), fill=_shade(app.skin, 0.9))


def _draw_eye(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance, view: View, side: int):
    u = side * app.eye_u
    ex, ey = fr.x(u), fr.y(app.eye_v)
    sq = fr.squash(u)
    w = fr.px(app.eye_w) * sq
    full_h = fr.px(app.eye_h)
    h = max(1.0, full_h * max(0.08, view.eye_open))
    d.ellipse((ex - w, ey - h, ex + w, ey + h), fill=(245, 245, 240))
    ir = min(full_h * 0.95, w * 0.8)
    ih = min(ir, h)
    gaze = fr.rx * 0.05 * math.sin(fr.yaw)
    d.ellipse((ex + gaze - ir * sq, ey - ih, ex + gaze + ir * sq, ey + ih), fill=app.eye)
    pr = ir * 0.45
    ph = min(pr, h)
    d.ellipse((ex + gaze - pr * sq, ey - ph, ex + gaze + pr * sq, ey + ph), fill=(15, 15, 15))
    lid = max(1, int(fr.size / 100))
    d.arc((ex - w, ey - h, ex + w, ey + h), 180, 360, fill=(40, 30, 30), width=lid)
    # eyebrow
    by = ey - full_h - fr.px(app.brow_gap)
    tilt = math.tan(math.radians(app.brow_tilt))
    inner, outer = ex - side * w * 0.9, ex + side * w * 1.15
    bw = max(1, int(fr.px(app.brow_thick)))
    d.line(
        [
            (inner, by + tilt * w * 0.4),
            ((inner + outer) / 2, by - bw * 0.6),
            (outer, by - tilt * w * 0.9),
        ],
        fill=_shade(app.hair, 0.85),
        width=bw,
        joint="curve",
    )
    return ex, ey, w, full_h


def _draw_glasses(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance, eyes) -> None:
    width = max(2, int(fr.size / 70))
    boxes = []
    for ex, ey, w, h in eyes:
        gw, gh = w * 1.35 + fr.rx * 0.04, h * 1.9 + fr.rx * 0.04
        box = (ex - gw, ey - gh, ex + gw, ey + gh)
        boxes.append(box)
        if app.glasses == 1:
            d.ellipse(box, outline=app.glasses_colour, width=width)
        else:
            d.rounded_rectangle(box, radius=gh * 0.35, outline=app.glasses_colour, width=width)
    left, right = sorted(boxes)
    mid_y = (left[1] + left[3]) / 2
    d.line([(left[2], mid_y), (right[0], mid_y)], fill=app.glasses_colour, width=width)


def _draw_nose(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance) -> None:
    col = _shade(app.skin, 0.72)
    top = (fr.x(0.0, 1.05), fr.y(app.nose_v - app.nose_len))
    tip = (fr.x(0.0, 1.25), fr.y(app.nose_v))
    w = fr.px(app.nose_w) * fr.squash(0.0)
    width = max(1, int(fr.size / 90))
    d.line([top, tip], fill=col, width=width)
    d.arc(
        (tip[0] - w, tip[1] - w * 0.6, tip[0] + w, tip[1] + w * 0.5), 10, 170, fill=col, width=width
    )


def _draw_mouth(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance, view: View) -> None:
    n = 13
    half = app.mouth_w / 2 * (1 + 0.15 * max(0.0, view.smile))
    curve = fr.px(0.2) * view.smile
    upper, lower = [], []
    gap = fr.px(0.09) * max(0.0, view.smile - 0.45)
    for i in range(n):
        t = -1 + 2 * i / (n - 1)
        u = t * half
        x = fr.x(u)
        base = fr.y(app.mouth_v) + curve * (1 - t * t) - curve * 0.5
        upper.append((x, base - gap * 0.2 * (1 - t * t)))
        lower.append((x, base + gap * (1 - t * t)))
    lip_w = max(1, int(fr.px(app.lip_thick)))
    if gap > 1.0:
        d.polygon(upper + lower[::-1], fill=(90, 20, 30), outline=app.lip)
        teeth = [(x, y + gap * 0.12) for x, y in upper]
        d.line(teeth[2:-2], fill=(240, 240, 235), width=max(1, int(gap * 0.35)))
        d.line(upper, fill=app.lip, width=lip_w)
        d.line(lower, fill=app.lip, width=lip_w)
    else:
        d.line(upper, fill=app.lip, width=lip_w, joint="curve")


def _draw_beard(d: ImageDraw.ImageDraw, fr: _Frame, app: Appearance) -> None:
    col = _shade(app.hair, 0.95)
    if app.beard == 1:
        pts = [p for p in _head_polygon(fr, app.chin, 1.02) if p[1] > fr.y(app.nose_v + 0.05)]
        pts.sort(key=lambda p: p[0])
        inner = [
            (fr.x(t * app.mouth_w * 0.75), fr.y(app.mouth_v - 0.1 + 0.12 * (1 - t * t)))
            for t in np.linspace(1, -1, 9)
        ]
        d.polygon(pts[::-1] + inner[::-1], fill=col)
    else:
        y = fr.y(app.mouth_v - 0.09)
        half = app.mouth_w / 2 * 1.1
        d.line(
            [(fr.x(-half), y + fr.px(0.05)), (fr.x(0.0), y), (fr.x(half), y + fr.px(0.05))],
            fill=col,
            width=max(2, int(fr.px(0.06))),
            joint="curve",
        )


def _lighting(arr: np.ndarray, view: View) -> np.ndarray:
    if view.light_amp <= 0 and view.dim == 1.0:
        return arr
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    proj = (xx - w / 2) * math.cos(view.light_angle) + (yy - h / 2) * math.sin(view.light_angle)
    gain = view.dim * (1.0 + view.light_amp * proj / (w / 2))
    return np.clip(arr * gain[..., None], 0, 255)


def render_face(app: Appearance, view: View, size: int = OUT_SIZE) -> Image.Image:
    """Render one RGB face image of `size` x `size` pixels."""
    big = size * _SS
    fr = _Frame(app, view, big)
    bg = Image.new("RGB", (big, big), view.background)
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    # neck and shoulders
    neck_w = fr.rx * 0.42
    d.rectangle((fr.cx - neck_w, fr.y(0.6), fr.cx + neck_w, big), fill=_shade(app.skin, 0.85))
    d.ellipse((fr.cx - fr.rx * 2.0, fr.y(1.28), fr.cx + fr.rx * 2.0, fr.y(2.6)), fill=view.shirt)
    _draw_hair_back(d, fr, app)
    _draw_ears(d, fr, app)
    head = _head_polygon(fr, app.chin)
    d.polygon(head, fill=app.skin)
    # fringe: hair over the top of the head, clipped to the head shape
    if app.hair_style != 2:
        mask = Image.new("L", (big, big), 0)
        ImageDraw.Draw(mask).polygon(head, fill=255)
        fringe = Image.new("L", (big, big), 0)
        fd = ImageDraw.Draw(fringe)
        part = fr.x(app.parting)
        fd.polygon(
            [
                (0, 0),
                (big, 0),
                (big, fr.y(app.fringe + 0.08)),
                (part, fr.y(app.fringe)),
                (0, fr.y(app.fringe + 0.12)),
            ],
            fill=255,
        )
        clip = Image.fromarray(np.minimum(np.asarray(mask), np.asarray(fringe)))
        layer.paste(app.hair + (255,), (0, 0), clip)
    if app.mole is not None:
        mx, my, r = fr.x(app.mole[0]), fr.y(app.mole[1]), fr.px(0.03)
        d.ellipse((mx - r, my - r, mx + r, my + r), fill=_shade(app.skin, 0.45))
    eyes = [_draw_eye(d, fr, app, view, side) for side in (-1, 1)]
    _draw_nose(d, fr, app)
    if app.beard:
        _draw_beard(d, fr, app)
    _draw_mouth(d, fr, app, view)
    if app.glasses:
        _draw_glasses(d, fr, app, eyes)
    if view.roll:
        layer = layer.rotate(view.roll, resample=Image.BILINEAR, center=(fr.cx, fr.cy))
    bg.paste(layer, (0, 0), layer)
    arr = _lighting(np.asarray(bg, dtype=np.float32), view)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    return img.resize((size, size), Image.LANCZOS)
