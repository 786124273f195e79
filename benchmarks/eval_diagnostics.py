"""Acceptance figures of the diagnostics on the demo's planted scenarios.

Run: python benchmarks/eval_diagnostics.py [--seeds 0 1 2 3] [--clusters 60]
Generates the demo for each seed in a temporary folder, scores it (SDD, CR, image cues, flags,
anchored quality) and prints consistency-trap recall / false-positive rate, how often each label
puts the planted good image of a one-good-many-poor cluster first (by degradation kind),
intruder recall and near-duplicate grouping.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from fiqa_gui.core.demo.acceptance import evaluate_demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--clusters", type=int, default=60)
    args = ap.parse_args()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            figures = evaluate_demo(Path(tmp) / "demo", seed=seed, n_clusters=args.clusters)
        print(f"seed {seed}: {json.dumps(figures, indent=1)}")


if __name__ == "__main__":
    main()
