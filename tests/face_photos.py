"""Real face photos for the embedding tests (tests/data/faces, provenance in its README) and
folders of variants derived from them, so each person has a cluster of several photos."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

FACES = Path(__file__).parent / "data" / "faces"
PEOPLE = ("angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham")
VARIANTS = ("orig", "crop", "flip", "blur", "small")


def photo(name: str) -> Image.Image:
    with Image.open(FACES / f"{name}.jpg") as im:
        return im.convert("RGB")


def variant(im: Image.Image, kind: str) -> Image.Image:
    """A derived photo of the same person: a crop, a mirror image, mild blur, half size."""
    w, h = im.size
    if kind == "orig":
        return im.copy()
    if kind == "crop":
        return im.crop((w // 10, h // 12, w - w // 10, h - h // 8))
    if kind == "flip":
        return ImageOps.mirror(im)
    if kind == "blur":
        return im.filter(ImageFilter.GaussianBlur(1.2))
    if kind == "small":
        return im.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    raise ValueError(kind)


def photo_folder(root: Path, people=PEOPLE, variants=VARIANTS) -> Path:
    """ROOT/<person>/<variant>.jpg for every person and variant (an ImageFolder tree)."""
    for name in people:
        im = photo(name)
        (root / name).mkdir(parents=True, exist_ok=True)
        for v in variants:
            variant(im, v).save(root / name / f"{v}.jpg", quality=95)
    return root
