"""Benchmark: set the tier of 1,000 selected images and undo it, database write included.

Run: python benchmarks/bench_curation.py [--images 100000] [--select 1000] [--repeats 21]
Builds a project of N embeddings-only images (no image files) in a temporary folder, then times
`set_tier` apply and revert (each one SQLite transaction with synchronous=FULL + an audit row).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.loading import LoadedData
from fiqa_gui.core.store import Project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--select", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=21)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.images
    clusters = [f"id_{c:05d}" for c in rng.integers(0, max(1, n // 20), n)]
    ds = Dataset(root=Path("/nonexistent"), paths=[f"img/{i}.jpg" for i in range(n)],
                 clusters=clusters, source="manifest")
    with tempfile.TemporaryDirectory() as tmp:
        with Project.create(Path(tmp) / "p", LoadedData(ds, None, None)) as p:
            apply_ms, revert_ms = [], []
            for r in range(args.repeats):
                ids = rng.choice(n, size=args.select, replace=False)
                t0 = time.perf_counter()
                cmd = cur.set_tier(p, ids, cur.TIERS[r % 4])  # reads the previous tiers
                cmd.apply(p)
                t1 = time.perf_counter()
                cmd.revert(p)
                t2 = time.perf_counter()
                apply_ms.append((t1 - t0) * 1e3)
                revert_ms.append((t2 - t1) * 1e3)
    print(f"project: {n} images; selection: {args.select} images; {args.repeats} repeats")
    for name, xs in (("set tier (apply)", apply_ms), ("undo (revert)", revert_ms)):
        print(f"{name:18s} median {statistics.median(xs):6.1f} ms   max {max(xs):6.1f} ms")


if __name__ == "__main__":
    main()
