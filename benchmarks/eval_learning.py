"""Does one turn of the flywheel label the unlabelled clusters better than `quality`?

On the demo (planted ground truth `true_quality`), a simulated curator labels a third of the
clusters — tiers high/mid/low at the dataset's terciles of the true quality (`--labels tier`), or
corrected scores equal to it (`--labels score`) — through `import-labels`; then `learn` runs, and
the figures are measured on the clusters nobody labelled:

- ERC-AUC at FMR 1e-3 (lower is better; from the learn run's own record),
- good image first: in the one-good-many-poor clusters, how often the truly best image ranks first,
- mean within-cluster Spearman with the true quality.

    python benchmarks/eval_learning.py --seeds 0 1 2 --labels tier
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

SOURCES = ("learned", "quality", "sdd", "cr")


def simulate_curator(ds, labels: np.ndarray, share: float, mode: str, seed: int,
                     out: Path) -> np.ndarray:
    """Write a labels CSV for `share` of the clusters; return the labelled cluster indices."""
    tq = np.array([float(v) for v in ds.attributes["true_quality"]])
    rng = np.random.default_rng(seed)
    c = int(labels.max()) + 1
    picked = np.sort(rng.choice(c, max(2, int(round(share * c))), replace=False))
    lo, hi = np.quantile(tq, [1 / 3, 2 / 3])
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "tier" if mode == "tier" else "score"])
        for i in np.flatnonzero(np.isin(labels, picked)):
            value = ("high" if tq[i] >= hi else "mid" if tq[i] >= lo else "low") \
                if mode == "tier" else f"{tq[i]:.2f}"
            w.writerow([str(ds.absolute_path(int(i))), value])
    return picked


def figures(ds, labels: np.ndarray, scores: dict, held: np.ndarray) -> dict:
    tq = np.array([float(v) for v in ds.attributes["true_quality"]])
    scen = np.array(ds.attributes["scenario"])
    out = {}
    for name in SOURCES:
        v = np.asarray(scores[name], dtype=float)
        rhos, first = [], []
        for c in np.unique(labels[held]):
            m = np.flatnonzero(labels == c)
            ok = np.isfinite(v[m])
            if ok.sum() >= 3 and np.ptp(tq[m][ok]) > 0:
                rhos.append(spearmanr(v[m][ok], tq[m][ok])[0])
            if (scen[m] == "one_good_many_poor").any():
                first.append(bool(m[np.argmax(np.nan_to_num(v[m], nan=-np.inf))]
                                  == m[np.argmax(tq[m])]))
        out[name] = {"spearman": float(np.nanmean(rhos)),
                     "good_first": float(np.mean(first)) if first else float("nan"),
                     "good_first_n": len(first)}
    return out


def one_seed(seed: int, clusters: int, share: float, mode: str, work: Path) -> dict:
    from fiqa_gui.core.curation.import_labels import import_labels
    from fiqa_gui.core.demo.project import ensure_demo_project
    from fiqa_gui.core.labels.project_scoring import project_labels
    from fiqa_gui.core.learning.learn import learn_project
    from fiqa_gui.core.store import Project

    src = ensure_demo_project(work / f"demo-{seed}-{clusters}", seed=seed, n_clusters=clusters)
    dst = work / f"turn-{seed}"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    with Project.open(dst) as project:
        ds = project.dataset()
        labels = project_labels(project).labels
        picked = simulate_curator(ds, labels, share, mode, seed, work / f"labels-{seed}.csv")
        import_labels(project, work / f"labels-{seed}.csv")
        t0 = time.perf_counter()
        result = learn_project(project, seed=seed)
        seconds = time.perf_counter() - t0
        held = ~np.isin(labels, picked)
        out = figures(ds, labels, project.scores(result.run_id), held)
        for name, auc in result.summary["erc"].get("auc", {}).items():
            out[name]["erc_auc"] = auc
        out["_"] = {"labels": result.summary["labels"], "seconds": seconds,
                    "validation_mae": result.summary["validation"]["mae"],
                    "held_out_clusters": int(len(np.unique(labels[held])))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--clusters", type=int, default=60)
    ap.add_argument("--share", type=float, default=1 / 3)
    ap.add_argument("--labels", choices=("tier", "score"), default="tier")
    ap.add_argument("--work", type=Path, default=None, help="keep the demo projects here")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="fiqa-eval-learning-"))
    rows = [one_seed(s, args.clusters, args.share, args.labels, work) for s in args.seeds]
    print(f"one learn turn, labels ({args.labels}) on {args.share:.0%} of {args.clusters} demo "
          f"clusters, figures on the unlabelled ones; seeds {args.seeds}")
    print(f"{'source':9s} {'ERC-AUC':>9s} {'good first':>11s} {'Spearman':>9s}")
    for name in SOURCES:
        auc = np.mean([r[name].get("erc_auc", np.nan) for r in rows])
        gf = np.nanmean([r[name]["good_first"] for r in rows])
        rho = np.mean([r[name]["spearman"] for r in rows])
        print(f"{name:9s} {auc:9.4f} {gf:11.2f} {rho:9.3f}")
    meta = [r["_"] for r in rows]
    print(f"labels per turn {np.mean([m['labels'] for m in meta]):.0f}, held-out clusters "
          f"{np.mean([m['held_out_clusters'] for m in meta]):.0f}, validation MAE "
          f"{np.mean([m['validation_mae'] for m in meta]):.1f}, learn "
          f"{np.median([m['seconds'] for m in meta]):.1f} s (median)")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
