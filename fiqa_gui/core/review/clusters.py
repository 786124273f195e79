"""The cluster list: per-cluster summaries of a run, cluster membership in the order the
scoring uses, and the cluster worth opening first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from fiqa_gui.core.review.codes import CLUSTER_FLAGS


class ClusterIndex:
    """Image ids of every cluster in O(cluster size): one stable argsort of the labels."""

    def __init__(self, labels: np.ndarray, n_clusters: int | None = None) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        n = int(labels.max()) + 1 if n_clusters is None and len(labels) else (n_clusters or 0)
        self.order = np.argsort(labels, kind="stable")
        self.starts = np.searchsorted(labels[self.order], np.arange(n + 1))
        self.sizes = np.diff(self.starts)

    def __len__(self) -> int:
        return len(self.sizes)

    def members(self, cluster_id: int) -> np.ndarray:
        """Image ids of the cluster, ascending."""
        return self.order[self.starts[cluster_id]:self.starts[cluster_id + 1]]


@dataclass(frozen=True)
class ClusterSummary:
    """One row of the cluster list."""

    id: int
    name: str
    size: int
    mean_sdd: float
    mean_cr: float
    flags: tuple[str, ...]
    flagged: int
    review_state: str


@dataclass
class ClusterSummaries:
    """All cluster rows as columns (cheap at 100 k clusters); index or iterate for records."""

    ids: np.ndarray
    names: list[str]
    sizes: np.ndarray
    mean_sdd: np.ndarray
    mean_cr: np.ndarray
    flags: list[tuple[str, ...]]
    flagged: np.ndarray  # images with at least one flag
    review_state: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> ClusterSummary:
        return ClusterSummary(int(self.ids[i]), self.names[i], int(self.sizes[i]),
                              float(self.mean_sdd[i]), float(self.mean_cr[i]), self.flags[i],
                              int(self.flagged[i]), self.review_state[i])

    def __iter__(self) -> Iterator[ClusterSummary]:
        return (self[i] for i in range(len(self)))

    def flag_names(self) -> list[str]:
        """Every flag name present anywhere, sorted."""
        return sorted({f for fl in self.flags for f in fl})


def _cluster_nanmean(values: np.ndarray | None, labels: np.ndarray, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    total = np.bincount(labels[ok], weights=values[ok], minlength=n)
    count = np.bincount(labels[ok], minlength=n)
    out = np.full(n, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def image_flags(flags: Sequence[str]) -> list[str]:
    """The flags that concern the image itself (cluster-level flags left out)."""
    return [f for f in flags if f not in CLUSTER_FLAGS]


def summarize_clusters(labels: np.ndarray, names: Sequence[str], review_state: Sequence[str],
                       scores: dict | None) -> ClusterSummaries:
    """Cluster rows from per-image labels (0..C-1, in `names` order) and one run's scores
    (`None`: not scored yet). `flagged` counts images with an image-level flag."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(names)
    sizes = np.bincount(labels, minlength=n)
    present: list[set[str]] = [set() for _ in range(n)]
    flagged = np.zeros(n, dtype=np.int64)
    if scores is not None:
        for i, f in enumerate(scores.get("flags") or ()):
            if f:
                c = labels[i]
                present[c].update(f)
                if any(x not in CLUSTER_FLAGS for x in f):
                    flagged[c] += 1
    return ClusterSummaries(
        ids=np.arange(n), names=list(names), sizes=sizes,
        mean_sdd=_cluster_nanmean(scores.get("sdd") if scores else None, labels, n),
        mean_cr=_cluster_nanmean(scores.get("cr") if scores else None, labels, n),
        flags=[tuple(sorted(p)) for p in present], flagged=flagged,
        review_state=list(review_state))


def cluster_labels(project) -> tuple[np.ndarray, list[str], list[str]]:
    """(label 0..C-1 per image, cluster names, review states) with clusters in name order —
    the order `Dataset.labels` and the scoring use, whatever the clusters' database ids."""
    labels, names, states, _ = cluster_layout(project)
    return labels, names, states


def cluster_layout(project) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """`cluster_labels` plus the database id of each cluster index (the id curation commands
    and the store use; it differs from the index once clusters were moved or merged)."""
    rows = project.conn.execute("SELECT cluster_id FROM images ORDER BY id").fetchall()
    db_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    clusters = sorted((c for c in project.clusters()), key=lambda c: c[1])
    present = set(np.unique(db_ids).tolist())
    clusters = [c for c in clusters if c[0] in present]
    index = np.full(max(c[0] for c in clusters) + 1 if clusters else 1, -1, dtype=np.int64)
    for k, c in enumerate(clusters):
        index[c[0]] = k
    return (index[db_ids], [c[1] for c in clusters], [c[3] for c in clusters],
            np.array([c[0] for c in clusters], dtype=np.int64))


def cluster_summaries(project, run_id: int | None) -> ClusterSummaries:
    """The cluster list of an open `Project` for one run (`None`: no scores yet)."""
    labels, names, states = cluster_labels(project)
    scores = project.scores(run_id) if run_id is not None else None
    return summarize_clusters(labels, names, states, scores)


def showcase_cluster(summaries: ClusterSummaries, min_size: int = 12) -> int:
    """A cluster worth opening first: the largest flagged one with at least `min_size` images,
    else the largest. Used for the screenshot and as the initial selection."""
    if len(summaries) == 0:
        raise ValueError("no clusters")
    sizes = np.asarray(summaries.sizes)
    flagged = np.asarray(summaries.flagged)
    candidates = np.flatnonzero((flagged > 0) & (sizes >= min_size))
    if len(candidates):
        # most flags relative to size, then size, then the first such cluster: one where
        # something visibly happens (array-wise: a 50 k-cluster project on the GUI thread)
        ratio = flagged[candidates] / sizes[candidates]
        best = np.lexsort((-candidates, sizes[candidates], ratio))[-1]
        return int(candidates[best])
    return int(np.argmax(sizes))
