"""What to look at next: the images where the learned quality and the current label disagree
most, and where the learned model is least sure, across all clusters (active learning).

Only images the curator has not labelled are queued (no tier, no corrected score, not marked
wrong identity). The current label is the run's `quality`. Priority = |learned − quality| / its
median over the candidates + uncertainty / its median: an image high on either — the model
contradicts the label, or the model does not know — comes first; high on both, first of all. At
most `per_cluster` images of one cluster are queued (default 3), so the queue spreads over the
dataset instead of emptying one cluster that the model misjudges as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.learning.evidence import is_curated
from fiqa_gui.core.learning.learn import RUN_KIND


@dataclass(frozen=True)
class QueueItem:
    image_id: int
    learned: float
    label: float
    disagreement: float  # learned − label (positive: the model thinks it is better)
    uncertainty: float
    priority: float


def latest_learn_run(project):
    runs = project.runs(RUN_KIND)
    return runs[-1] if runs else None


def review_queue(project, run_id: int | None = None, limit: int | None = 100,
                 per_cluster: int | None = 3) -> list[QueueItem]:
    """The queue for learn run `run_id` (default: the newest), highest priority first."""
    run = latest_learn_run(project) if run_id is None else next(
        (r for r in project.runs(RUN_KIND) if r.id == run_id), None)
    if run is None:
        raise UserInputError("there is no learn run yet" if run_id is None else
                             f"run {run_id} is not a learn run", file=project.folder,
                             fix="run 'fiqa-gui learn PROJECT' (Scoring → Learn from my labels).")
    s = project.scores(run.id)
    learned = np.asarray(s["learned"], dtype=float)
    label = np.asarray(s["quality"], dtype=float)
    spread = np.asarray(s["learned_uncertainty"], dtype=float)
    ok = np.isfinite(learned) & np.isfinite(label) & ~is_curated(project, len(learned))
    ok &= np.array(["unreadable" not in f for f in s["flags"]], dtype=bool)
    cand = np.flatnonzero(ok)
    if not len(cand):
        return []
    d = learned[cand] - label[cand]
    u = np.nan_to_num(spread[cand])
    sd = max(float(np.median(np.abs(d))), 1e-9)
    su = max(float(np.median(u)), 1e-9)
    priority = np.abs(d) / sd + u / su
    order = np.lexsort((cand, -priority))
    if per_cluster is not None:
        clusters = project.image_cluster_ids()[cand[order]]
        taken: dict[int, int] = {}
        keep = []
        for k, c in zip(order.tolist(), clusters.tolist(), strict=True):
            if taken.get(c, 0) < per_cluster:
                taken[c] = taken.get(c, 0) + 1
                keep.append(k)
        order = np.asarray(keep, dtype=np.int64)
    return [QueueItem(int(cand[k]), float(learned[cand[k]]), float(label[cand[k]]), float(d[k]),
                      float(u[k]), float(priority[k])) for k in order[:limit]]


def learning_history(project) -> list[dict]:
    """One row per learn run, oldest first: what it used and how well it validated."""
    out = []
    for r in project.runs(RUN_KIND):
        learn = r.params.get("learn", {})
        val = learn.get("validation", {})
        out.append({"run_id": r.id, "created_at": r.created_at, "labels": learn.get("labels"),
                    "clusters_labelled": learn.get("clusters_labelled"),
                    "validation_mae": val.get("mae"), "validation_spearman": val.get("spearman"),
                    "erc": learn.get("erc")})
    return out
