"""Speed of the ERC evaluation (`fiqa_gui.core.evaluation`), re-runnable:

    python benchmarks/bench_erc.py [--images 1613] [--dim 512] [--repeats 3] [--bootstrap 20]

Synthetic identities (cluster centres + noise, quality-dependent), five label sources, FMR
1e-2 and 1e-3. 1,613 images give 1,300,078 pairs (the issue's 1.3 M). Reports medians over
`--repeats` of: building the pairs (all of them), the curves (fixed and re-derived threshold),
one identity-bootstrap replicate, the whole `evaluate_arrays` call, the sampled case (10,000
images = 50 M pairs, sampled to 2 M), and, side by side, a straightforward per-fraction numpy
version of the fixed-threshold curve (mask and count at every reject fraction) for the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fiqa_gui.core.evaluation.erc import (
    REJECT_FRACTIONS,
    ErcEngine,
    bootstrap_weights,
    pair_quality,
)
from fiqa_gui.core.evaluation.evaluate import evaluate_arrays
from fiqa_gui.core.evaluation.pairs import build_pairs

FMRS = (1e-2, 1e-3)


def synthetic(n: int, dim: int, seed: int = 0, per: int = 20):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) // per
    q = rng.random(n)
    centres = rng.normal(size=(labels.max() + 1, dim))
    emb = (centres[labels] * (0.2 + q[:, None]) + rng.normal(size=(n, dim))).astype(np.float32)
    sources = {"quality": q + rng.normal(0, 0.1, n), "sdd": q + rng.normal(0, 0.3, n),
               "cr": q + rng.normal(0, 0.5, n), "curated": np.round(q * 4) / 4,
               "random": rng.random(n)}
    return emb, labels, sources


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def per_fraction_numpy(pairs, sources) -> dict:
    """The fixed-threshold curve computed plainly: at every fraction, a quantile by partition
    and a mask over all pairs (what one writes without the sorted suffix sums)."""
    imp = np.sort(pairs.score[~pairs.genuine])[::-1]
    out = {}
    for name, values in sources.items():
        q = pair_quality(values, pairs.a, pairs.b)
        for f in FMRS:
            thr = imp[max(int(np.floor(f * len(imp) + 1e-9)), 1) - 1]
            fnmr = []
            for r in REJECT_FRACTIONS:
                k = int(np.floor(r * len(q) + 1e-9))
                keep = pairs.genuine if r == 0 else pairs.genuine & (q >= np.partition(q, k)[k])
                fnmr.append(np.count_nonzero(keep & (pairs.score <= thr)) / keep.sum())
            out[(name, f)] = np.array(fnmr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1613)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bootstrap", type=int, default=20)
    ap.add_argument("--sampled-images", type=int, default=10000)
    args = ap.parse_args()

    emb, labels, sources = synthetic(args.images, args.dim)
    t_pairs, pairs = median_time(lambda: build_pairs(emb, labels), args.repeats)
    print(f"{args.images} images × {args.dim}: {len(pairs):,} pairs "
          f"({pairs.genuine_pairs:,} genuine), {len(sources)} sources, FMR {FMRS}")
    print(f"  build pairs (all)                 {t_pairs:8.3f} s")
    t_engine, engine = median_time(lambda: ErcEngine(pairs, sources, FMRS), args.repeats)
    print(f"  sort by quality, 5 sources        {t_engine:8.3f} s")
    t_curves, curves = median_time(engine.curves, args.repeats)
    print(f"  curves, fixed threshold           {t_curves:8.3f} s")
    rng = np.random.default_rng(0)
    t_boot, _ = median_time(lambda: engine.curves(bootstrap_weights(pairs, rng)), args.repeats)
    print(f"  one bootstrap replicate           {t_boot:8.3f} s")
    red = ErcEngine(pairs, sources, FMRS, "rederived")
    t_red, _ = median_time(red.curves, args.repeats)
    print(f"  curves, re-derived threshold      {t_red:8.3f} s")
    t_all, _ = median_time(lambda: evaluate_arrays(emb, labels, sources, fmrs=FMRS),
                           args.repeats)
    print(f"  evaluate_arrays, all of it        {t_all:8.3f} s")
    t_allb, _ = median_time(lambda: evaluate_arrays(emb, labels, sources, fmrs=FMRS,
                                                    bootstrap=args.bootstrap), 1)
    print(f"  … with --bootstrap {args.bootstrap:<4d}            {t_allb:8.3f} s")
    t_plain, plain = median_time(lambda: per_fraction_numpy(pairs, sources), args.repeats)
    worst = max(float(np.max(np.abs(plain[k] - curves[k][0]))) for k in plain)
    print(f"  per-fraction numpy (side by side) {t_plain:8.3f} s   "
          f"ratio {t_plain / t_curves:5.1f}× the curves step, "
          f"{t_plain / (t_engine + t_curves):4.1f}× sort + curves; max |ΔFNMR| {worst:.1e}")

    emb2, labels2, sources2 = synthetic(args.sampled_images, args.dim, seed=1)
    t_s, res = median_time(lambda: evaluate_arrays(emb2, labels2, sources2, fmrs=FMRS),
                           args.repeats)
    s = res.sampling
    print(f"{args.sampled_images} images: {s['genuine_total'] + s['impostor_total']:,} pairs, "
          f"sampled {s['genuine_used']:,} genuine + {s['impostor_used']:,} impostor")
    print(f"  evaluate_arrays, sampled          {t_s:8.3f} s")


if __name__ == "__main__":
    main()
