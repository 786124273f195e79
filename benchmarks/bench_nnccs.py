"""CR's nearest-other-centre search, exact beside the IVF index, on every row.

    python benchmarks/bench_nnccs.py --n 1000000 --median 14.5 --groups 0      (structureless)
    python benchmarks/bench_nnccs.py --n 1000000 --median 14.5 --groups 512    (look-alike groups)

bench_scoring's long-tailed 512-d embeddings; `cr_scores` with `--nnccs exact`, `approx` and
`auto` in one process, side by side. Reports each one's seconds, and for the index: the share of
*all* rows whose nearest other centre it found (a different centre with the same float32 cosine
counts as found), the max |ΔNNCCS| and max |ΔCR| against exact, and what `auto` decided and why.
A benchmark, not a test: it prints figures and never fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import add_data_arguments, load_average, write_from_args  # noqa: E402

from fiqa_gui.core.scoring.cr import cr_scores  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(ap, median=14.5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "emb.npy"
        labels, n_clusters = write_from_args(path, args)
        emb = np.load(path, mmap_mode="r")
        print(f"{args.n:,} × {args.dim}, {n_clusters:,} clusters, groups {args.groups}; "
              f"load {load_average()}", flush=True)
        out = {}
        for mode in ("exact", "approx", "auto"):
            t = time.perf_counter()
            out[mode] = cr_scores(emb, labels, nnccs=mode)
            out[mode].seconds = time.perf_counter() - t
            info = out[mode].params["nnccs_search"]
            print(f"{mode:6s} {out[mode].seconds:7.1f} s  used {info['used']}: "
                  f"{info.get('why', '')}", flush=True)
        e = out["exact"]
        for mode in ("approx", "auto"):
            a = out[mode]
            if a.params["nnccs_search"]["used"] != "ivf":
                continue
            found = (a.nn_cluster == e.nn_cluster) | (np.abs(a.nnccs - e.nnccs) <= 1e-6)
            ok = np.isfinite(e.cr)
            info = {k: v for k, v in a.params["nnccs_search"].items() if k != "tried"}
            print(f"{mode}: recall over all rows {found.mean():.5f}; max |ΔNNCCS| "
                  f"{np.max(np.abs(a.nnccs - e.nnccs)):.4f}; max |ΔCR| "
                  f"{np.max(np.abs(a.cr[ok] - e.cr[ok])):.4f}; speed-up "
                  f"{e.seconds / a.seconds:.2f}×")
            print("  " + json.dumps(info, default=str))
        print(f"load {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
