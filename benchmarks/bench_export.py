"""Benchmark: sample, approve and export ~100,000 seed images.

Run: python benchmarks/bench_export.py [--clusters 14300] [--d 512] [--link symlink] [--tmp DIR]

Builds an embeddings-only project (no image decoding) of `--clusters` identities with 10-32
images each (~21 on average, so ~300k images and ~100k seeds at the default quotas 3/2/2),
a score run, and a within-cluster clustering run; then times: proposing seeds (stratified,
farthest-point, tier x sub-cluster x pose), writing the proposal, approving every seed set,
and each export (seed CSV, JSON Lines, ImageFolder tree, the whole-dataset label file, the
audit log). Placeholder image files are written only for the approved seeds (setup, untimed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from fiqa_gui.core.curation import seeds as sd
from fiqa_gui.core.export import project_export as ex
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.loading import LoadedData
from fiqa_gui.core.seedsets import clustering as cl
from fiqa_gui.core.seedsets import sampling as sm
from fiqa_gui.core.store import Project
from fiqa_gui.core.store.seed_queries import approved_seeds


def make_embeddings(path: Path, sizes: np.ndarray, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(sizes.sum())
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    for s in range(0, n, 50_000):
        lab = labels[s:s + 50_000]
        ids, inv = np.unique(lab, return_inverse=True)
        centres = np.stack([np.random.default_rng([seed, int(u)]).normal(size=(2, d))
                            for u in ids]).astype(np.float32)
        look = rng.integers(0, 2, len(lab))
        x = centres[inv, 0] + 0.6 * centres[inv, 1] * look[:, None] \
            + rng.normal(size=(len(lab), d)).astype(np.float32) * 0.7
        out[s:s + len(lab)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    return labels


def timed(name: str, fn, results: list):
    t = time.perf_counter()
    value = fn()
    dt = time.perf_counter() - t
    results.append((name, dt))
    print(f"  {name:42s} {dt:7.1f} s", flush=True)
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, default=14_300)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--link", default="symlink", choices=ex.LINK_MODES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    sizes = rng.integers(10, 33, args.clusters)
    n = int(sizes.sum())
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        setup: list = []
        print(f"setup: {n} images in {args.clusters} clusters, d={args.d}")
        labels = timed("embeddings", lambda: make_embeddings(tmp / "emb.npy", sizes, args.d,
                                                             args.seed), setup)
        emb = np.load(tmp / "emb.npy", mmap_mode="r")
        names = [f"id_{c:05d}" for c in range(args.clusters)]
        ds = Dataset(root=tmp / "images", paths=[f"{names[c]}/{i:07d}.jpg"
                                                 for i, c in enumerate(labels)],
                     clusters=[names[c] for c in labels],
                     attributes={"pose": [("frontal", "left", "right")[i % 3]
                                          for i in range(n)]})
        project = timed("create project", lambda: Project.create(
            tmp / "proj", LoadedData(ds, emb, tmp / "emb.npy"), copy_embeddings=False), setup)
        q = rng.uniform(0, 100, n)
        timed("store a score run", lambda: project.add_run(
            "score", {"bench": True}, {"sdd": 100 - q, "quality": q}), setup)
        timed("sub-clusters within clusters (stored)",
              lambda: cl.cluster_command(project, (0.7, 0.6, 0.5)), setup)
        steps: list = []
        print("sampling and approval:")
        params = sm.SamplingParams(attributes=("pose",))
        prop = timed("propose seeds (sample)", lambda: sm.propose_seeds(project, params=params),
                     steps)
        timed("write the proposal (ProposeSeeds)",
              lambda: sd.ProposeSeeds(project, prop).apply(project), steps)
        cids = [r[0] for r in project.clusters()]
        timed("approve every seed set",
              lambda: sd.approve_seed_set(project, cids, pending="approve").apply(project),
              steps)
        approved = approved_seeds(project)
        n_seeds = sum(len(v) for v in approved.values())
        print(f"  approved seeds: {n_seeds} in {len(approved)} clusters")
        out = tmp / "out"
        timed("(setup) placeholder files for the seeds", lambda: [
            (ds.root / ds.paths[i]).parent.mkdir(parents=True, exist_ok=True)
            or (ds.root / ds.paths[i]).write_bytes(b"x" * 1024)
            for ids in approved.values() for i in ids], setup)
        print("exports:")
        reports = [
            timed("seeds CSV", lambda: ex.export_seeds_csv(project, out / "seeds.csv"), steps),
            timed("seeds JSON Lines", lambda: ex.export_seeds_jsonl(project, out / "s.jsonl"),
                  steps),
            timed(f"ImageFolder tree ({args.link})",
                  lambda: ex.export_tree(project, out / "tree", mode=args.link), steps),
            timed(f"label file (all {n} images)",
                  lambda: ex.export_labels(project, out / "labels.txt"), steps),
            timed("audit log CSV", lambda: ex.export_audit(project, out / "audit.csv"), steps),
        ]
        for r in reports:
            size = sum(f.stat().st_size for f in r.path.rglob("*") if f.is_file()) \
                if r.path.is_dir() else r.path.stat().st_size
            print(f"  {r.kind:12s} {r.rows:8d} rows  {size / 2**20:8.1f} MiB  {r.path.name}")
        total = sum(dt for _, dt in steps)
        print(f"sampling + approval + exports of {n_seeds} seeds: {total:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f} at end)")
        suggest = time.perf_counter()
        sd.suggest_replacements(project, approved[cids[0]][0])
        print(f"one swap suggestion at this size: {time.perf_counter() - suggest:.2f} s")
        project.close()


if __name__ == "__main__":
    main()
