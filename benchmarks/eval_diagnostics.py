"""Acceptance figures of the diagnostics on the demo's planted scenarios.

Run: python benchmarks/eval_diagnostics.py [--seeds 0 1 2] [--clusters 60]
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

from fiqa_gui.core.demo import generate_demo
from fiqa_gui.core.demo.acceptance import acceptance_figures
from fiqa_gui.core.loading import load_data
from fiqa_gui.core.project_scoring import finish_scores
from fiqa_gui.core.scoring.pipeline import ScoringParams, score_dataset


def evaluate(seed: int, n_clusters: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_demo(Path(tmp) / "demo", seed=seed, n_clusters=n_clusters)
        data = load_data(manifest=manifest, embeddings=manifest.parent / "embeddings.npy")
        ds = data.dataset
        res = score_dataset(data.embeddings, ds.labels, ds.cluster_names,
                            [str(p) for p in ds.absolute_paths()], ScoringParams(seed=seed))
        cols = {c: getattr(res, c) for c in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
        diag, anchored, _ = finish_scores(data.embeddings, ds.labels, cols,
                                          unreadable=res.unreadable)
        cols["quality"] = anchored.quality
        return acceptance_figures(ds, cols, diag.cluster_flags, diag.image_flags,
                                  diag.near_dup_group)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--clusters", type=int, default=60)
    args = ap.parse_args()
    for seed in args.seeds:
        print(f"seed {seed}: {json.dumps(evaluate(seed, args.clusters), indent=1)}")


if __name__ == "__main__":
    main()
