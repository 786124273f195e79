"""Sharded scoring on a local Ray cluster vs one process, side by side, on the same cores.

    python benchmarks/bench_ray.py --n 1000000 --workers 2 --runs 1

Writes bench_scoring's long-tailed synthetic 512-d embeddings (memory-mapped .npy), then times
SDD + CR (`score_dataset`, no image cues) in this process and with `RayBackend` (a local
cluster of `--workers` CPU slots, started before the clock), alternating, and checks that the
two give the same labels. Prints medians and the ratio ray / one process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import add_data_arguments, load_average, write_from_args  # noqa: E402

from fiqa_gui.core.scoring.distributed import RayBackend, RayOptions  # noqa: E402
from fiqa_gui.core.scoring.pipeline import ScoringParams, score_dataset  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(ap)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "emb.npy"
        t = time.perf_counter()
        labels, n_clusters = write_from_args(path, args)
        print(f"{args.n:,} × {args.dim}, {n_clusters:,} clusters written in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        emb = np.load(path, mmap_mode="r")
        names = [str(i) for i in range(n_clusters)]
        params = ScoringParams(image_cues=False)
        backend = RayBackend(RayOptions(workers=args.workers))
        t = time.perf_counter()
        backend.start()
        print(f"local Ray cluster of {args.workers} started in {time.perf_counter() - t:.1f} s",
              flush=True)
        times: dict[str, list[float]] = {"one process": [], "ray": []}
        last = {}
        try:
            for _ in range(args.runs):
                for name, b in (("one process", None), ("ray", backend)):
                    t = time.perf_counter()
                    res = score_dataset(emb, labels, names, None, params, backend=b)
                    times[name].append(time.perf_counter() - t)
                    last[name] = res
                    print(f"  {name}: {times[name][-1]:.1f} s (SDD {res.stage_seconds['sdd']:.1f}"
                          f", CR {res.stage_seconds['cr']:.1f}); load {load_average()}",
                          flush=True)
        finally:
            backend.shutdown()
        a, b = last["one process"], last["ray"]
        diff = max(float(np.nanmax(np.abs(getattr(a, c) - getattr(b, c))))
                   for c in ("sdd", "sdd_signed", "cr"))
        m1, m2 = statistics.median(times["one process"]), statistics.median(times["ray"])
        print(f"median one process {m1:.1f} s, ray ({args.workers} workers) {m2:.1f} s, "
              f"ratio {m2 / m1:.2f}; max |difference| {diff:.2g}; flags equal "
              f"{a.flags == b.flags}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
