"""Writing the demo dataset: images, manifest.csv, embeddings.npy and README.txt.

Also `generate_embeddings_only`, the same embedding model at scale (up to millions of rows, in
chunks) for benchmarks and scale tests. Nothing here depends on how many worker processes render:
every random draw is seeded by ``[seed, TAG, index]``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from fiqa_gui.core.demo.degrade import degrade, jpeg_quality, near_copy
from fiqa_gui.core.demo.embedding_model import (
    ALL_KINDS,
    KINDS,
    EmbeddingModel,
    identity_loss,
    nuisance_coefficients,
)
from fiqa_gui.core.demo.faces import Appearance, View, random_appearance, render_face
from fiqa_gui.core.demo.scenarios import (
    SCENARIOS,
    ImageSpec,
    MakeUp,
    cluster_name,
    plan_dataset,
)

ProgressFn = Callable[[int, int, str], None]

ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "scenario",
    "true_identity",
    "true_quality",
    "degradation",
    "near_dup_group",
    "pose",
    "expression",
    "lighting",
)
COLUMNS: tuple[str, ...] = ("path", "cluster", *ATTRIBUTE_COLUMNS)

_TAG_APPEARANCE, _TAG_PIXELS, _TAG_NOISE, _TAG_COPY, _TAG_BULK = 201, 202, 203, 204, 205
_COPY_JITTER = 0.15  # a copy's embedding noise = its source's + this much fresh noise
_BATCH = 48  # images per rendering task
_BULK_CHUNK = 16384  # rows per chunk in generate_embeddings_only
POSES = ("frontal", "left", "right")
EXPRESSIONS = ("neutral", "smile")
LIGHTINGS = ("even", "side", "dim")


# ---------------------------------------------------------------- rendering


@lru_cache(maxsize=4096)
def _appearance(seed: int, identity: int) -> Appearance:
    return random_appearance(np.random.default_rng([seed, _TAG_APPEARANCE, identity]))


def render_spec(seed: int, spec: ImageSpec) -> Image.Image:
    """The final pixels of one planned image (degraded, or a near-duplicate copy). JPEG-degraded
    images are returned clean: their degradation is the lossy save (see `write_image`)."""
    view = View(
        yaw=spec.yaw,
        roll=spec.roll,
        smile=spec.smile,
        eye_open=spec.eye_open,
        light_angle=spec.light_angle,
        light_amp=spec.light_amp,
        dim=spec.dim,
        background=spec.background,
        shirt=spec.shirt,
        shift=spec.shift,
        scale=spec.scale,
    )
    img = render_face(_appearance(seed, spec.identity), view)
    own = spec.source if spec.source >= 0 else spec.index
    rng = np.random.default_rng([seed, _TAG_PIXELS, own])
    if spec.kind not in ("none", "jpeg"):
        img = degrade(img, spec.kind, spec.strength, rng)
    if spec.source >= 0:
        img = near_copy(img, np.random.default_rng([seed, _TAG_COPY, spec.index]))
    return img


def write_image(img: Image.Image, spec: ImageSpec, path: Path) -> None:
    """Save: low-quality JPEG for the ``jpeg`` kind, JPEG 95 for copies, PNG otherwise."""
    if spec.kind == "jpeg":
        img.save(path, format="JPEG", quality=jpeg_quality(spec.strength))
    elif spec.ext == "jpg":
        img.save(path, format="JPEG", quality=95)
    else:
        img.save(path, format="PNG", compress_level=3)


def _render_batch(seed: int, out_dir: str, specs: list[ImageSpec]) -> int:
    root = Path(out_dir)
    for spec in specs:
        path = root / spec.path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(render_spec(seed, spec), spec, path)
    return len(specs)


def _render_all(seed, out_dir, specs, workers, progress: ProgressFn, cancel) -> None:
    batches = [specs[i : i + _BATCH] for i in range(0, len(specs), _BATCH)]
    total, done = len(specs), 0
    progress(0, total, "Rendering images")
    if workers <= 1 or len(batches) < 4:
        for batch in batches:
            if cancel is not None:
                cancel.check()
            done += _render_batch(seed, str(out_dir), batch)
            progress(done, total, "Rendering images")
        return
    # spawn, not fork: the caller may be a multi-threaded GUI process
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(_render_batch, seed, str(out_dir), b) for b in batches}
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
                for fut in finished:
                    done += fut.result()
                progress(done, total, "Rendering images")
                if cancel is not None:
                    cancel.check()
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


# ---------------------------------------------------------------- embeddings


def _kind_index(kinds) -> np.ndarray:
    lookup = {k: i for i, k in enumerate(ALL_KINDS)}
    return np.array([lookup[k] for k in kinds], dtype=np.int64)


def embed_specs(specs: list[ImageSpec], seed: int, dim: int = 512,
                model: EmbeddingModel | None = None) -> np.ndarray:
    """Embeddings (N x dim float32) of planned images with the documented model (or `model`,
    e.g. `bunched_model`). A near-duplicate copy reuses its source's noise draw plus a little
    fresh noise (cosine ~0.99 to the source)."""
    model = model or EmbeddingModel(seed=seed, dim=dim)
    dim = model.dim
    noise = np.empty((len(specs), dim))
    for i, sp in enumerate(specs):
        own = sp.source if sp.source >= 0 else sp.index
        noise[i] = np.random.default_rng([seed, _TAG_NOISE, own]).standard_normal(dim)
        if sp.source >= 0:
            jitter = np.random.default_rng([seed, _TAG_COPY, sp.index]).standard_normal(dim)
            noise[i] += _COPY_JITTER * jitter

    def col(name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in specs], dtype=np.float64)

    amp, ang = col("light_amp"), col("light_angle")
    z = nuisance_coefficients(
        col("yaw"),
        col("roll"),
        col("smile"),
        col("eye_open"),
        amp * np.cos(ang) / 0.45,
        amp * np.sin(ang) / 0.45,
        col("dim"),
    )
    return model.embed(
        np.array([s.identity for s in specs]),
        z,
        _kind_index(s.kind for s in specs),
        col("strength"),
        noise,
    )


# ---------------------------------------------------------------- files


def spec_row(spec: ImageSpec) -> dict[str, str]:
    """The manifest row of a planned image (all values as written)."""
    return {
        "path": spec.path,
        "cluster": spec.cluster,
        "scenario": spec.scenario,
        "true_identity": spec.true_identity,
        "true_quality": f"{spec.quality:.1f}",
        "degradation": spec.kind,
        "near_dup_group": spec.near_dup_group,
        "pose": spec.pose,
        "expression": spec.expression,
        "lighting": spec.lighting,
    }


def write_manifest(rows, path: Path) -> None:
    """Write manifest rows (dicts keyed by `COLUMNS`) as UTF-8 CSV with a header, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    os.replace(tmp, path)


def _save_npy(arr: np.ndarray, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    os.replace(tmp, path)


def _readme(specs: list[ImageSpec], seed: int, n_clusters: int) -> str:
    rows = Counter(s.scenario for s in specs)
    kind_of_cluster: dict[str, str] = {}
    for s in specs:  # a cluster hosting intruders counts as an intruder cluster
        if kind_of_cluster.get(s.cluster) != "intruder":
            kind_of_cluster[s.cluster] = s.scenario
    clusters = Counter(kind_of_cluster.values())
    out = io.StringIO()
    out.write(
        "FIQA Curator synthetic demo dataset\n"
        "===================================\n\n"
        "Procedurally rendered cartoon faces (112x112 RGB aligned crops) with planted quality\n"
        "problems, for trying the tool without real data. Nothing here was downloaded.\n\n"
        f"seed: {seed}\nclusters: {n_clusters}\nimages: {len(specs)}\n\n"
        "Files\n-----\n"
        "manifest.csv    path,cluster + ground-truth attribute columns (see below)\n"
        "embeddings.npy  N x 512 float32, L2-normalised rows in manifest order\n"
        "images/         images/<cluster>/<cluster>_<nnnn>.png|jpg\n\n"
        "The embeddings are NOT computed from the pixels: they come from a documented generative\n"
        "model (fiqa_gui/core/demo/embedding_model.py) driven by the same parameters as the\n"
        "renderer (identity, pose, expression, lighting, degradation kind and strength), built to\n"
        "show the effects of SPEC.md section 5: degraded images lose identity signal and drift\n"
        "toward a shared per-kind direction and a common low-information region.\n\n"
        "Scenarios (column `scenario`)      clusters  rows\n"
    )
    for sc in SCENARIOS:
        out.write(f"  {sc:<30} {clusters.get(sc, 0):>8}  {rows.get(sc, 0):>4}\n")
    out.write(
        "  (intruder: the clusters hosting intruders; their other rows count as mixed)\n\n"
        "Columns\n-------\n"
        "scenario        clean | consistent_degraded | one_good_many_poor | intruder |\n"
        "                near_duplicate | singleton | mixed\n"
        "true_identity   the identity actually rendered (differs from cluster for intruders)\n"
        "true_quality    0..100, 100 = clean; = 100 x the identity-signal weight of the model\n"
        "degradation     none | " + " | ".join(KINDS) + "\n"
        "near_dup_group  shared by near-identical copies and their source, else empty\n"
        "pose            frontal | left | right (left: turned toward the image's left)\n"
        "expression      neutral | smile\n"
        "lighting        even | side | dim\n\n"
        "Degradations by kind (rows): "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(s.kind for s in specs).items()))
        + "\n"
    )
    return out.getvalue()


def generate_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    n_clusters: int = 60,
    progress: ProgressFn | None = None,
    cancel=None,
    workers: int | None = None,
    make_up: MakeUp | None = None,
    model: EmbeddingModel | None = None,
) -> Path:
    """Generate the demo dataset into `out_dir`; return the path of its manifest.csv.

    `progress(done, total, stage)` is called as work advances; `cancel.check()` (if given) is
    called between batches and may raise to stop. `workers` rendering processes (default: up to
    2, by CPU count; 1 in a frozen app); the output is byte-identical whatever the number.
    Existing files in `out_dir` are overwritten, never deleted. `make_up` and `model` vary the
    data set for sweeps (`scenarios.MakeUp`, `embedding_model.bunched_model`); None is the demo.
    """
    progress = progress or (lambda done, total, stage: None)
    out_dir = Path(out_dir)
    progress(0, 1, "Planning")
    specs = plan_dataset(seed, n_clusters, make_up)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    progress(1, 1, "Planning")
    if workers is None:  # a frozen app would re-launch itself in a spawned worker
        workers = 1 if getattr(sys, "frozen", False) else min(2, os.cpu_count() or 1)
    _render_all(seed, out_dir, specs, workers, progress, cancel)
    if cancel is not None:
        cancel.check()
    progress(0, 1, "Computing embeddings")
    emb = embed_specs(specs, seed, model=model)
    progress(1, 1, "Computing embeddings")
    progress(0, 1, "Writing files")
    _save_npy(emb, out_dir / "embeddings.npy")
    (out_dir / "README.txt").write_text(_readme(specs, seed, n_clusters), encoding="utf-8")
    manifest = out_dir / "manifest.csv"
    write_manifest((spec_row(s) for s in specs), manifest)
    progress(1, 1, "Writing files")
    return manifest


# ---------------------------------------------------------------- scale


def cluster_sizes(n_images: int, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Long-tailed cluster sizes (lognormal weights, each >= 1) summing to n_images."""
    if n_clusters < 1 or n_images < n_clusters:
        raise ValueError("need n_clusters >= 1 and n_images >= n_clusters")
    rng = np.random.default_rng([seed, _TAG_BULK, n_images, n_clusters])
    w = rng.lognormal(0.0, 1.1, n_clusters)
    return 1 + rng.multinomial(n_images - n_clusters, w / w.sum())


def generate_embeddings_only(
    n_images: int,
    n_clusters: int,
    *,
    dim: int = 512,
    seed: int = 0,
    tiny_images_dir: Path | None = None,
) -> tuple[list[dict], np.ndarray]:
    """Manifest rows and float32 embeddings (unit rows) for a large synthetic dataset.

    Same embedding model as the demo; cluster sizes are long-tailed (`cluster_sizes`); 40% of
    images degraded with a random kind and strength. Computed in chunks of 16,384 rows, so memory
    beyond the output array stays small. Row paths are ``images/<cluster>/<cluster>_<nnnn>.jpg``;
    if `tiny_images_dir` is given, a 16x16 JPEG is written there for every row (paths relative to
    it, so put the manifest in that folder) — only sensible up to some 10^5 images.
    """
    sizes = cluster_sizes(n_images, n_clusters, seed)
    cluster_of = np.repeat(np.arange(n_clusters), sizes)
    ordinal = np.arange(n_images) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    model = EmbeddingModel(seed=seed, dim=dim)
    emb = np.empty((n_images, dim), dtype=np.float32)
    names = [cluster_name(c, n_clusters) for c in range(n_clusters)]
    rows: list[dict] = []
    sizes_list = sizes.tolist()
    singleton, mixed = "singleton", "mixed"
    for start in range(0, n_images, _BULK_CHUNK):
        stop = min(n_images, start + _BULK_CHUNK)
        rng = np.random.default_rng([seed, _TAG_BULK, start // _BULK_CHUNK])
        p = _bulk_params(rng, stop - start)
        ids = cluster_of[start:stop]
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        emb[start:stop] = model.embed(ids, p["z"], p["kind"], p["strength"], noise)
        quality = np.round(100.0 * (1.0 - identity_loss(p["kind"]) * p["strength"]), 1)
        cols = zip(
            ids.tolist(),
            ordinal[start:stop].tolist(),
            p["kind"].tolist(),
            quality.tolist(),
            p["pose"].tolist(),
            p["expression"].tolist(),
            p["lighting"].tolist(),
            strict=True,
        )
        for c, k, kind, q, pose, expr, light in cols:
            name = names[c]
            rows.append(
                {
                    "path": f"images/{name}/{name}_{k:04d}.jpg",
                    "cluster": name,
                    "scenario": singleton if sizes_list[c] == 1 else mixed,
                    "true_identity": name,
                    "true_quality": q,
                    "degradation": ALL_KINDS[kind],
                    "near_dup_group": "",
                    "pose": POSES[pose],
                    "expression": EXPRESSIONS[expr],
                    "lighting": LIGHTINGS[light],
                }
            )
        if tiny_images_dir is not None:
            _write_tiny(Path(tiny_images_dir), rows[start:stop], ids, p, seed)
    return rows, emb


def _bulk_params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Vectorised per-image parameters for a chunk (same distributions as the demo's views)."""
    pose = rng.choice(3, n, p=[0.6, 0.2, 0.2])
    yaw = np.where(
        pose == 0,
        rng.uniform(-12, 12, n),
        np.where(pose == 1, rng.uniform(-40, -18, n), rng.uniform(18, 40, n)),
    )
    expression = (rng.random(n) < 0.35).astype(np.int64)
    smile = np.where(expression == 1, rng.uniform(0.55, 1.0, n), rng.uniform(-0.1, 0.25, n))
    eye = np.where(expression == 1, rng.uniform(0.45, 0.85, n), rng.uniform(0.7, 1.0, n))
    lighting = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    ang = rng.uniform(0, 2 * math.pi, n)
    amp = np.where(lighting == 1, rng.uniform(0.25, 0.45, n), 0.0)
    dim = np.where(lighting == 2, rng.uniform(0.6, 0.75, n), 1.0)
    roll = np.clip(rng.normal(0, 5, n), -12, 12)
    degraded = rng.random(n) < 0.4
    kind = np.where(degraded, rng.integers(1, len(ALL_KINDS), n), 0)
    strength = np.where(degraded, 0.15 + 0.8 * rng.beta(2, 2, n), 0.0)
    z = nuisance_coefficients(
        yaw, roll, smile, eye, amp * np.cos(ang) / 0.45, amp * np.sin(ang) / 0.45, dim
    )
    return {
        "pose": pose,
        "expression": expression,
        "lighting": lighting,
        "kind": kind,
        "strength": strength,
        "z": z,
        "dim": dim,
        "amp": amp,
        "ang": ang,
    }


def _write_tiny(root: Path, rows: list[dict], ids: np.ndarray, p: dict, seed: int) -> None:
    """16x16 JPEG stand-ins: identity skin/hair colours, darkened or brightened with the light
    and exposure, softened by blur/lowres. Cheap enough for ~10^5 files."""
    yy, xx = np.mgrid[0:16, 0:16]
    face = ((xx - 7.5) / 5.0) ** 2 + ((yy - 8.5) / 6.5) ** 2 <= 1.0
    hair = (((xx - 7.5) / 6.0) ** 2 + ((yy - 6.5) / 6.5) ** 2 <= 1.0) & (yy < 5)
    eyes = (yy == 7) & ((xx == 5) | (xx == 10))
    made: set[str] = set()
    for j, row in enumerate(rows):
        app = _appearance(seed, int(ids[j]))
        img = np.full((16, 16, 3), 180.0)
        img[face] = app.skin
        img[hair] = app.hair
        img[eyes] = (20, 20, 20)
        kind, s = row["degradation"], float(p["strength"][j])
        gain = p["dim"][j] * (1 - 0.85 * s if kind == "underexposed" else 1)
        gain *= 1 + 2.5 * s if kind == "overexposed" else 1
        img = img * gain
        if kind in ("blur", "lowres"):
            img = 0.5 * img + 0.5 * img.mean(axis=(0, 1))
        folder = root / row["path"].rsplit("/", 1)[0]
        if str(folder) not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(str(folder))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            root / row["path"], format="JPEG", quality=90
        )
