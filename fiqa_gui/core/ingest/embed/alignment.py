"""Face alignment: dlib's 150×150 chip for its descriptor, and the ArcFace five-point template.

ArcFace-family models (InsightFace and the CR-FIQA evaluation) expect 112×112 crops where the eye
centres, nose tip and mouth corners sit on fixed template points; the crop is the similarity
transform (rotation, uniform scale, shift) that best maps the five detected points onto them
(least squares, Umeyama 1991). The five points come from dlib's 68-point landmarks.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25
# (x, y) for a 112×112 crop: left eye, right eye (as seen in the image), nose tip, mouth corners
ARCFACE_TEMPLATE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                                 [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)


def five_points_from_68(shape) -> np.ndarray:
    """Eye centres (mean of each eye's six points), nose tip (30), mouth corners (48, 54)."""
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)
    return np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48],
                     pts[54]])


def arcface_template(size: int) -> np.ndarray:
    """The five template points for a `size`×`size` crop (the 112 template, scaled)."""
    return ARCFACE_TEMPLATE_112 * (size / 112.0)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 matrix M of the similarity transform minimising Σ‖dst − M·[src, 1]‖² (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rot = u @ np.diag(sign) @ vt
    var_s = (s0 ** 2).sum() / len(src)
    scale = (sig * sign).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def warp_affine(img: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """`size`×`size` crop where output point p shows input point M⁻¹p (bilinear, Pillow).

    `m` maps pixel-index coordinates (pixel i's centre at i); Pillow samples at pixel centres
    i + 0.5, so the inverse is conjugated by that half-pixel shift.
    """
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    inv = shift @ np.linalg.inv(a) @ unshift
    out = Image.fromarray(img).transform((size, size), Image.Transform.AFFINE,
                                         data=tuple(inv[:2].ravel()),
                                         resample=Image.Resampling.BILINEAR)
    return np.asarray(out)


def arcface_crop(img: np.ndarray, five_points: np.ndarray, size: int) -> np.ndarray:
    """The ArcFace-aligned `size`×`size` crop of `img` for the given five points."""
    return warp_affine(img, similarity_transform(five_points, arcface_template(size)), size)
