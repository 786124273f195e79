"""Benchmark: multi-threshold clustering of N x d embeddings with the approximate (IVF) index.

Run: python benchmarks/bench_clustering.py [--n 1000000] [--d 512] [--queries 20000]
     [--thresholds 0.7,0.6,0.5] [--k 16] [--index ivf] [--within] [--tmp DIR]

Generates long-tailed clustered synthetic embeddings in chunks into a memory-mapped .npy (as a
project stores them): identity sizes lognormal (median ~12, mean ~20, a long tail to a few
hundred), each identity a random unit centre with three 'looks', per-image isotropic noise, and a
quality-dependent pull of poor images toward one common direction (SPEC §5: degraded images drift
together). Same-identity cosines come out around 0.55-0.8, different identities below ~0.25.

Reports the clustering time by stage, peak memory (RSS and anonymous memory, sampled), components
per level, and the recall of the neighbour lists against exact search (faiss IndexFlatIP over all
N) for `--queries` random images: recall@k and edge recall per threshold (exact neighbours with
cosine >= t that the graph also has). `--within` also times sub-clustering inside the identities.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from fiqa_gui.core.seedsets import clustering as cl
from fiqa_gui.core.seedsets import neighbours as nb


def identity_sizes(n: int, mean_size: float, rng: np.random.Generator) -> np.ndarray:
    sizes = []
    total = 0
    while total < n:
        s = int(max(1, rng.lognormal(np.log(mean_size) - 0.5, 1.0)))
        s = min(s, n - total)
        sizes.append(s)
        total += s
    return np.asarray(sizes)


def generate(path: Path, n: int, d: int, seed: int = 0, mean_size: float = 20.0,
             chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Write N x d float32 unit rows to `path` (memory-mapped); return (memmap, identity)."""
    rng = np.random.default_rng(seed)
    sizes = identity_sizes(n, mean_size, rng)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    common = rng.normal(size=d).astype(np.float32)
    common /= np.linalg.norm(common)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        lab = labels[s:e]
        ids = np.unique(lab)
        centres = np.empty((len(ids), 3, d), dtype=np.float32)
        for j, u in enumerate(ids):  # per-identity generator: chunking does not change the data
            r = np.random.default_rng([seed, int(u)])
            c = r.normal(size=d)
            c /= np.linalg.norm(c)
            centres[j] = c + 0.5 * r.normal(size=(3, d)) / np.sqrt(d)
        look = rng.integers(0, 3, e - s)
        c = centres[np.searchsorted(ids, lab), look]
        q = rng.uniform(0, 1, size=(e - s, 1)).astype(np.float32)
        noise = rng.normal(size=(e - s, d)).astype(np.float32) * (0.6 / np.sqrt(d))
        x = c * (0.7 + 0.5 * q) + common * (0.4 * (1 - q)) + noise
        out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    return out, labels


class MemorySampler:
    """Peak RSS and anonymous RSS of this process, sampled every 0.2 s (Linux /proc)."""

    def __init__(self) -> None:
        self.peak_rss = self.peak_anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> tuple[int, int]:
        rss = anon = 0
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                    elif line.startswith("RssAnon:"):
                        anon = int(line.split()[1]) * 1024
        except OSError:
            pass
        return rss, anon

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, anon = self._read()
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_anon = max(self.peak_anon, anon)
            time.sleep(0.2)

    def __enter__(self) -> MemorySampler:
        self.peak_rss, self.peak_anon = self._read()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class StageTimer:
    """A progress callback that records when each stage starts."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stages: list[tuple[str, float]] = []

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.stages or self.stages[-1][0] != stage:
            self.stages.append((stage, time.perf_counter() - self.t0))

    def report(self, end: float) -> list[str]:
        out = []
        for (name, t), nxt in zip(self.stages, [*self.stages[1:], ("end", end)], strict=True):
            out.append(f"  {name:28s} {nxt[1] - t:7.1f} s")
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=nb.DEFAULT_K)
    ap.add_argument("--thresholds", default="0.7,0.6,0.5")
    ap.add_argument("--index", default="ivf", choices=nb.INDEX_KINDS)
    ap.add_argument("--nprobe", type=int, default=nb.IvfParams.nprobe)
    ap.add_argument("--refine", type=int, default=nb.IvfParams.refine)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--raw-recall", action="store_true",
                    help="measure the neighbour search alone: keep neighbours at any cosine "
                    "(min_sim=-1) and report recall@k (slow and memory-hungry: use n <= 200k)")
    ap.add_argument("--within", action="store_true", help="also time sub-clustering")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", default=None, help="folder for the generated .npy")
    args = ap.parse_args()
    thresholds = tuple(float(t) for t in args.thresholds.split(","))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        t = time.perf_counter()
        x, identity = generate(Path(tmp) / "emb.npy", args.n, args.d, seed=args.seed)
        x = np.load(Path(tmp) / "emb.npy", mmap_mode="r")  # read back as a project would
        print(f"generated {args.n} x {args.d} ({len(np.unique(identity))} identities, largest "
              f"{np.bincount(identity).max()}) in {time.perf_counter() - t:.1f} s")
        timer = StageTimer()
        ivf = nb.IvfParams(nprobe=args.nprobe, refine=args.refine)
        with MemorySampler() as mem:
            t = time.perf_counter()
            res = cl.cluster_embeddings(x, thresholds, k=args.k, index=args.index, ivf=ivf,
                                        seed=args.seed, keep_graph=True, progress=timer)
            took = time.perf_counter() - t
        if args.raw_recall:
            t = time.perf_counter()
            raw = nb.knn_graph(x, args.k, min_sim=-1.0, index=args.index, ivf=ivf,
                               seed=args.seed)
            q = np.sort(np.random.default_rng(1).choice(args.n, min(args.queries, args.n),
                                                        replace=False))
            r = nb.knn_recall(raw, x, q)[f"recall@{args.k}"]
            print(f"raw neighbour search (min_sim=-1): recall@{args.k} {r:.4f} over {len(q)} "
                  f"queries ({time.perf_counter() - t:.0f} s, not part of the timing below)")
        print(f"\nclustering ({args.index}, k={args.k}, thresholds {thresholds}): {took:.1f} s,"
              f" peak RSS {mem.peak_rss / 2**30:.2f} GiB (anonymous {mem.peak_anon / 2**30:.2f}"
              f" GiB), load average {os.getloadavg()[0]:.1f} at end")
        print("\n".join(timer.report(took)))
        print(f"  parameters: {res.graph.params}")
        for row in res.summary():
            print(f"  level {row['level']} (cos >= {row['threshold']:g}): {row['components']} "
                  f"components, {row['singletons']} singletons, largest {row['largest']}")
        nested = all(cl.check_nested(res.labels[i - 1], res.labels[i])
                     for i in range(1, len(thresholds)))
        print(f"  nested: {nested}")
        if args.within:
            timer = StageTimer()
            with MemorySampler() as mem:
                t = time.perf_counter()
                sub = cl.cluster_embeddings(x, thresholds, k=args.k, groups=identity,
                                            progress=timer)
                took = time.perf_counter() - t
            print(f"\nsub-clusters within {len(np.unique(identity))} identities: {took:.1f} s, "
                  f"peak RSS {mem.peak_rss / 2**30:.2f} GiB; components per level "
                  f"{[r['components'] for r in sub.summary()]}")
        if args.queries:
            t = time.perf_counter()
            q = np.sort(np.random.default_rng(1).choice(args.n, min(args.queries, args.n),
                                                        replace=False))
            rec = nb.knn_recall(res.graph, x, q, thresholds)
            print(f"\nrecall against exact search (IndexFlatIP over all {args.n}) for {len(q)} "
                  f"random images ({time.perf_counter() - t:.0f} s):")
            for name, v in rec.items():
                note = (" (counts exact neighbours below the loosest threshold, which the graph "
                        "drops by design)" if name.startswith("recall@") else "")
                print(f"  {name:18s} {v:.4f}{note}")


if __name__ == "__main__":
    main()
