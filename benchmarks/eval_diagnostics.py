"""Acceptance figures of the diagnostics: the default demo, and a sweep over data-set make-ups.

Run: python benchmarks/eval_diagnostics.py [--seeds 0] [--shares 0.1 0.3 0.5 0.75]
                                           [--clusters 80] [--demo-only | --sweep-only]

The demo part generates the default demo (60 clusters) per seed and prints its figures as JSON.
The sweep generates, per share of consistently degraded clusters (10/30/50/75 %; degraded by
blur, down-scaling, noise or JPEG, with 8 one-good-many-poor clusters at every share), one image
set, and scores it with a spread 512-d embedding model and a bunched 128-d one (every pair
between about 0.6 and 0.95, degraded clusters no tighter than clean ones), each raw and
mean-centred. Per point it prints consistency-trap recall (per kind) and false-positive rate
over the clusters whose typical image is clean, and how often `quality`, SDD and CR put the
planted good image of a one-good-many-poor cluster first (per kind); then a Markdown table.
Goal at every point: trap recall ≥ 0.9 at FPR ≤ 0.05, `quality` good image first ≥ 0.9.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fiqa_gui.core.demo.acceptance import (
    SWEEP_CLUSTERS,
    SWEEP_SHARES,
    evaluate_demo,
    sweep_share,
)


def table(points: list[dict]) -> str:
    """The sweep as a Markdown table, one row per point."""
    head = ("| seed | share | model | embeddings | trap recall | "
            "by kind (blur/jpeg/lowres/noise) | trap FPR | good first: quality | SDD | CR | "
            "quality by kind | at goal |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for p in points:
        kinds = p["trap_recall_by_kind"]
        gk = p["good_first_by_kind"]["quality"]
        rows.append(
            f"| {p['seed']} | {p['share']:.0%} | {p['model']} | {p['centring']} | "
            f"{p['trap_recall']:.2f} | "
            + " ".join(kinds.get(k, "–") for k in ("blur", "jpeg", "lowres", "noise"))
            + f" | {p['trap_fpr']:.2f} ({p['trap_clusters']['typically_clean']} clusters) | "
            f"{p['good_first']['quality']:.2f} | {p['good_first']['sdd']:.2f} | "
            f"{p['good_first']['cr']:.2f} | "
            + " ".join(gk.get(k, "–") for k in ("blur", "jpeg", "lowres", "noise"))
            + f" | {'yes' if p['at_goal'] else 'NO'} |")
    return head + "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--shares", type=float, nargs="+", default=list(SWEEP_SHARES))
    ap.add_argument("--clusters", type=int, default=SWEEP_CLUSTERS)
    ap.add_argument("--demo-only", action="store_true")
    ap.add_argument("--sweep-only", action="store_true")
    args = ap.parse_args()
    if not args.sweep_only:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                figures = evaluate_demo(Path(tmp) / "demo", seed=seed)
            print(f"default demo, seed {seed}: {json.dumps(figures, indent=1)}", flush=True)
    if args.demo_only:
        return
    points = []
    for seed in args.seeds:
        for share in args.shares:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                pts = sweep_share(Path(tmp) / "sweep", share, seed=seed,
                                  n_clusters=args.clusters)
            for p in pts:
                print(json.dumps({k: p[k] for k in (
                    "seed", "share", "model", "centring", "trap_recall", "trap_recall_by_kind",
                    "trap_fpr", "trap_clusters", "good_first", "good_first_by_kind", "scale",
                    "at_goal")}), flush=True)
            print(f"share {share:.0%}, seed {seed}: {time.perf_counter() - t0:.0f} s",
                  flush=True)
            points += pts
    print()
    print(table(points))
    print(f"\n{sum(p['at_goal'] for p in points)}/{len(points)} points at goal")


if __name__ == "__main__":
    main()
