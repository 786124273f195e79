"""Find the face in a photo with dlib, the way dlib documents it, escalating only when needed.

1. HOG (`get_frontal_face_detector`) on the photo; a small photo is upsampled (HOG's smallest
   face is about 80 px), and a photo where nothing is found is tried once more upsampled.
2. Padding: on a tight crop or a small pre-aligned chip the face fills the frame and HOG's
   window does not fit; the photo is padded (edge pixels repeated) and HOG tried again.
3. The MMOD CNN detector on the padded photo (slow: about 1 s per 400 px photo on a CPU core,
   so only as a fallback, on a copy scaled to at most `CNN_MAX_SIDE`).

Several faces: the largest is kept and `faces_in_photo` says how many the succeeding step found.
Large photos are searched on a scaled copy; the rectangle is mapped back to full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from fiqa_gui.core.ingest.embed.extras import dlib_model_file, import_dlib

DETECT_MAX_SIDE = 1600   # larger photos are searched on a copy scaled to this
SMALL_SIDE = 300         # photos whose shorter side is below this start upsampled
PAD_FRACTION = 0.25      # padding on each side, as a fraction of the longer side
CNN_MAX_SIDE = 400


@dataclass
class FoundFace:
    """The largest face: its rectangle in `image` (the photo, or a padded copy of it)."""

    image: np.ndarray
    rect: object          # dlib.rectangle in `image` coordinates
    faces_in_photo: int
    method: str           # hog | hog_upsampled | hog_padded | cnn
    padding: int          # pixels added on each side (0 unless padded)


def _scaled(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    side = max(img.shape[:2])
    if side <= max_side:
        return img, 1.0
    f = max_side / side
    size = (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f)))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR)), f


def pad_photo(img: np.ndarray, fraction: float = PAD_FRACTION) -> tuple[np.ndarray, int]:
    """The photo with `fraction` of its longer side added on every side (edge pixels repeated)."""
    p = max(8, int(round(fraction * max(img.shape[:2]))))
    return np.pad(img, ((p, p), (p, p), (0, 0)), mode="edge"), p


class FaceFinder:
    """dlib's HOG detector with upsampling and padding, and the MMOD CNN as a fallback."""

    def __init__(self, *, cnn_fallback: bool = True) -> None:
        self.dlib = import_dlib()
        self.hog = self.dlib.get_frontal_face_detector()
        self.cnn_fallback = cnn_fallback
        self._cnn = None

    @property
    def cnn(self):
        if self._cnn is None:
            self._cnn = self.dlib.cnn_face_detection_model_v1(str(dlib_model_file("detector_cnn")))
        return self._cnn

    def _hog(self, img: np.ndarray) -> tuple[list, str]:
        small, f = _scaled(img, DETECT_MAX_SIDE)
        schedule = (1, 2) if min(img.shape[:2]) < SMALL_SIDE else (0, 1)
        for k, up in enumerate(schedule):
            rects = list(self.hog(small, up))
            if rects:
                return [self._unscale(r, f) for r in rects], "hog" if k == 0 else "hog_upsampled"
        return [], ""

    def _unscale(self, r, f: float):
        if f == 1.0:
            return r
        return self.dlib.rectangle(int(round(r.left() / f)), int(round(r.top() / f)),
                                   int(round(r.right() / f)), int(round(r.bottom() / f)))

    def find(self, img: np.ndarray) -> FoundFace | None:
        """The largest face in `img` (H×W×3 uint8 RGB), or None when every step finds none."""
        rects, method = self._hog(img)
        if rects:
            return self._largest(img, rects, method, 0)
        padded, p = pad_photo(img)
        rects, _ = self._hog(padded)
        if rects:
            return self._largest(padded, rects, "hog_padded", p)
        if not self.cnn_fallback:
            return None
        small, f = _scaled(padded, CNN_MAX_SIDE)
        dets = self.cnn(small, 1 if max(small.shape[:2]) < CNN_MAX_SIDE // 2 else 0)
        rects = [self._unscale(d.rect, f) for d in dets]
        return self._largest(padded, rects, "cnn", p) if rects else None

    @staticmethod
    def _largest(img: np.ndarray, rects: list, method: str, padding: int) -> FoundFace:
        best = max(rects, key=lambda r: r.width() * r.height())
        return FoundFace(image=img, rect=best, faces_in_photo=len(rects), method=method,
                         padding=padding)
