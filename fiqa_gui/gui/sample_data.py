"""A small scored project built from generated pixels, for tests, benchmarks and screenshots.

Qt-free. Images are drawn with Pillow (one face-like sketch per cluster, degraded per image),
embeddings are cluster centres plus noise that grows as quality drops, and one image per larger
cluster is planted from another identity. Scores come from the real scoring pipeline when it is
installed, else from a documented stand-in (exact SDD, leave-one-out CR, a brightness/sharpness
image-quality proxy) so the window always has something true to show.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEFAULT_SIZES = (30, 14, 12, 9, 6, 1)


def _face(rng: np.random.Generator, hue: np.ndarray, px: int, quality: float) -> Image.Image:
    """A crude face: background, head ellipse, eyes and mouth; blurred/darkened by `quality`."""
    bg = tuple(int(c) for c in rng.integers(40, 200, 3))
    img = Image.new("RGB", (px, px), bg)
    d = ImageDraw.Draw(img)
    skin = tuple(int(c) for c in np.clip(hue + rng.normal(0, 8, 3), 0, 255))
    j = rng.normal(0, px * 0.03, 2)
    cx, cy = px / 2 + j[0], px / 2 + j[1]
    d.ellipse([cx - px * 0.3, cy - px * 0.38, cx + px * 0.3, cy + px * 0.38], fill=skin)
    for sx in (-1, 1):
        ex = cx + sx * px * 0.12
        d.ellipse([ex - px * 0.05, cy - px * 0.1, ex + px * 0.05, cy - px * 0.03],
                  fill=(30, 30, 40))
    d.arc([cx - px * 0.12, cy + px * 0.05, cx + px * 0.12, cy + px * 0.22], 20, 160,
          fill=(120, 40, 40), width=max(1, px // 24))
    if quality < 0.8:
        img = img.filter(ImageFilter.GaussianBlur(radius=(0.8 - quality) * px / 10))
    if quality < 0.5:
        arr = np.asarray(img, dtype=float) * (0.35 + quality)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


TRAP_CLUSTER = 3  # the cluster whose every image is degraded: a planted consistency trap


def write_sample_data(out_dir: str | Path, sizes=DEFAULT_SIZES, *, image_px: int = 64,
                      dim: int = 32, seed: int = 0, fmt: str = "jpg",
                      trap_cluster: int | None = TRAP_CLUSTER) -> dict:
    """Write images, `manifest.csv` and `embeddings.npy` under `out_dir`; return their paths.

    Every image of cluster `trap_cluster` (when the sample has it) is degraded alike — blurred,
    darkened, drifted in embedding space — so the sample always shows a consistency trap.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    drift = rng.normal(size=dim)
    drift /= np.linalg.norm(drift)  # where poor images of every identity drift to
    rows, emb, quality = [], [], []
    for c, n in enumerate(sizes):
        name = f"id_{c + 1:02d}"
        hue = rng.integers(90, 230, 3).astype(float)
        planted = n >= 8  # one image from another identity in the larger clusters
        for j in range(n):
            q = float(np.clip(rng.beta(4, 2), 0.05, 1.0))
            if c == trap_cluster:
                q = float(rng.uniform(0.15, 0.3))
            src = (c + 1) % len(sizes) if planted and j == n - 1 else c
            rel = f"images/{name}/{name}_{j:03d}.{fmt}"
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            _face(rng, hue, image_px, q).save(path, quality=90) if fmt == "jpg" else \
                _face(rng, hue, image_px, q).save(path)
            v = q * centres[src] + (1 - q) * 0.8 * drift + rng.normal(0, 0.25, dim)
            emb.append(v / np.linalg.norm(v))
            rows.append({"path": rel, "cluster": name, "pose": ["frontal", "left", "right"][j % 3],
                         "planted": "wrong_identity" if src != c else ""})
            quality.append(q)
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["path", "cluster", "pose", "planted"])
        w.writeheader()
        w.writerows(rows)
    emb_path = out / "embeddings.npy"
    np.save(emb_path, np.asarray(emb, dtype=np.float32))
    return {"manifest": manifest, "embeddings": emb_path, "quality": np.asarray(quality)}


def stand_in_scores(emb: np.ndarray, labels: np.ndarray, iq: np.ndarray | None = None) -> dict:
    """Exact-mode SDD (W1 of all positives vs all negatives, min-max to 0..100), signed SDD,
    leave-one-out CR, and flags — the stand-in used only when the scoring package is absent."""
    from scipy.stats import wasserstein_distance

    x = np.asarray(emb, dtype=float)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(x)
    n_clusters = int(labels.max()) + 1
    sims = x @ x.T
    sums = np.zeros((n_clusters, x.shape[1]))
    np.add.at(sums, labels, x)
    w1 = np.full(n, np.nan)
    signed = np.full(n, np.nan)
    ccs = np.full(n, np.nan)
    nnccs = np.full(n, np.nan)
    flags: list[list[str]] = [[] for _ in range(n)]
    centres = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    for i in range(n):
        same = labels == labels[i]
        same[i] = False
        if not same.any():
            flags[i].append("singleton")
            continue
        pos, neg = sims[i, same], sims[i, labels != labels[i]]
        w1[i] = wasserstein_distance(pos, neg)
        signed[i] = np.sign(pos.mean() - neg.mean()) * w1[i]
        if signed[i] < 0:
            flags[i].append("identity_suspect")
        own = sums[labels[i]] - x[i]  # leave-one-out centre
        ccs[i] = x[i] @ own / np.linalg.norm(own)
        other = centres @ x[i]
        other[labels[i]] = -np.inf
        nnccs[i] = other.max()
    ok = np.isfinite(w1)
    lo, hi = w1[ok].min(), w1[ok].max()
    sdd = (w1 - lo) / max(hi - lo, 1e-12) * 100
    cr = ccs / (nnccs + 1 + 1e-9)
    iq = np.full(n, np.nan) if iq is None else np.asarray(iq, dtype=float)
    return {"sdd": sdd, "sdd_signed": signed * 100 / max(hi - lo, 1e-12), "cr": cr, "ccs": ccs,
            "nnccs": nnccs, "iq": iq, "flags": flags}


def build_sample_project(folder: str | Path, sizes=DEFAULT_SIZES, *, image_px: int = 64,
                         dim: int = 32, seed: int = 0, score: bool = True,
                         real_scoring: bool | None = None) -> Path:
    """Generate data under `folder/data` and a project at `folder/project`; return the project.

    `score`: store one scoring run. `real_scoring`: use the scoring package (default: when it
    imports), else the stand-in.
    """
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.review.review_data import scoring_available
    from fiqa_gui.core.store import Project

    folder = Path(folder)
    files = write_sample_data(folder / "data", sizes, image_px=image_px, dim=dim, seed=seed)
    data = load_data(manifest=files["manifest"], embeddings=files["embeddings"])
    project_dir = folder / "project"
    Project.create(project_dir, data).close()
    if not score:
        return project_dir
    if real_scoring is None:
        real_scoring = scoring_available()
    if real_scoring:
        from fiqa_gui.core.labels.project_scoring import score_project
        from fiqa_gui.core.scoring.pipeline import ScoringParams

        with Project.open(project_dir) as project:
            score_project(project, ScoringParams(seed=seed, repeats=3, workers=1))
        return project_dir
    iq = 100 * files["quality"]  # the generator's own quality, as a perfect image cue
    s = stand_in_scores(np.load(files["embeddings"]), data.dataset.labels, iq)
    flags = s.pop("flags")
    with Project.open(project_dir) as project:
        project.add_run("score", {"stand_in": True, "seed": seed, "exact": True}, s, flags,
                        device="cpu", seed=seed, duration_s=0.0)
    return project_dir
