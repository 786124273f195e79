"""What the review window shows, computed headless: cluster summaries, rankings, tiers, the
similarity picture behind an SDD score, and the load/score steps the window runs as jobs.

Qt-free on purpose: every number on screen can be reproduced from the CLI or a notebook.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress

RANKABLE: tuple[str, ...] = ("sdd", "cr", "iq")
"""Scores a gallery can be ranked by; `rankable(scores)` adds the ones a run really has."""

OPTIONAL_RANKABLE: tuple[str, ...] = ("quality",)

SCORE_TITLES: dict[str, str] = {
    "sdd": "SDD",
    "sdd_signed": "SDD (signed)",
    "cr": "CR",
    "ccs": "CCS",
    "nnccs": "NNCCS",
    "iq": "Image quality",
    "quality": "Quality",
}

CLUSTER_FLAGS = frozenset({"consistency_trap", "cluster_score_shift"})
"""Flags that describe a whole cluster; the store repeats them on each of its images."""

TIER_NONE, TIER_LOW, TIER_MID, TIER_HIGH = -1, 0, 1, 2
TIER_NAMES: dict[int, str] = {TIER_NONE: "none", TIER_LOW: "low", TIER_MID: "mid",
                              TIER_HIGH: "high"}


def score_title(name: str) -> str:
    """The label a curator reads for a score column (`sdd` → `SDD`)."""
    return SCORE_TITLES.get(name, name.replace("_", " "))


# ------------------------------------------------------------------------- rankings


def rankable(scores: dict | None) -> tuple[str, ...]:
    """`RANKABLE`, led by `quality` (the default ranking) when the run holds any value of it."""
    if not scores:
        return RANKABLE
    extra = tuple(name for name in OPTIONAL_RANKABLE
                  if name in scores and np.isfinite(np.asarray(scores[name], float)).any())
    return extra + RANKABLE


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


def rank_cluster(scores: dict, labels: np.ndarray, cluster_id: int, by: str = "sdd",
                 descending: bool = True, *, members: np.ndarray | None = None) -> np.ndarray:
    """Image ids of one cluster ordered by score `by`; NaN always last; ties keep id order.

    `members` (the cluster's ids, e.g. from `ClusterIndex.members`) skips the O(N) label scan.
    """
    ids = np.flatnonzero(np.asarray(labels) == cluster_id) if members is None \
        else np.asarray(members, dtype=np.int64)
    if by not in scores:
        raise KeyError(f"the run has no score named {by!r}")
    values = np.asarray(scores[by], dtype=float)[ids]
    # argsort puts NaN last whatever the sign, and -NaN is NaN, so descending keeps NaN last too.
    key = -values if descending else values
    return ids[np.argsort(key, kind="stable")]


def in_range(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mask of values inside [lo, hi]; NaN is never inside a range."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return (values >= lo) & (values <= hi)


def score_tiers(values: np.ndarray, cuts: Sequence[float] | None = None) -> np.ndarray:
    """Predicted tier per image from one score (higher = better): `TIER_LOW/MID/HIGH`, or
    `TIER_NONE` where the score is NaN. Default cuts are the dataset's terciles of that score,
    so a tier says "bottom / middle / top third of this dataset" until a curator sets one."""
    values = np.asarray(values, dtype=float)
    out = np.full(len(values), TIER_NONE, dtype=np.int8)
    ok = np.isfinite(values)
    if not ok.any():
        return out
    if cuts is None:
        cuts = np.quantile(values[ok], [1 / 3, 2 / 3])
    lo, hi = float(cuts[0]), float(cuts[1])
    v = values[ok]
    out[ok] = np.where(v >= hi, TIER_HIGH, np.where(v >= lo, TIER_MID, TIER_LOW))
    return out


def score_names(scores: dict | None) -> list[str]:
    """The numeric columns of a run that hold at least one value, in display order: rankable
    scores first, then the other SDD/CR parts, then extra cues alphabetically."""
    if not scores:
        return []
    names = [n for n in scores if n != "flags"
             and np.isfinite(np.asarray(scores[n], dtype=float)).any()]
    first = [n for n in (*RANKABLE, *OPTIONAL_RANKABLE, "sdd_signed", "ccs", "nnccs")
             if n in names]
    return first + sorted(n for n in names if n not in first)


def image_scores(scores: dict | None, index: int,
                 names: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """Every numeric value of one image in a run (or only `names`), in display order."""
    if not scores:
        return []
    if names is not None:
        return [(n, float(scores[n][index])) for n in names]
    names = [n for n in scores if n != "flags"]
    first = [n for n in (*RANKABLE, *OPTIONAL_RANKABLE, "sdd_signed", "ccs", "nnccs")
             if n in names]
    rest = sorted(n for n in names if n not in first)
    out = []
    for name in first + rest:
        col = scores[name]
        try:
            out.append((name, float(col[index])))
        except (TypeError, ValueError):
            continue
    return out


# ------------------------------------------------------------------------- clusters


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
    rows = project.conn.execute("SELECT cluster_id FROM images ORDER BY id").fetchall()
    db_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    clusters = sorted((c for c in project.clusters()), key=lambda c: c[1])
    present = set(np.unique(db_ids).tolist())
    clusters = [c for c in clusters if c[0] in present]
    index = np.full(max(c[0] for c in clusters) + 1 if clusters else 1, -1, dtype=np.int64)
    for k, c in enumerate(clusters):
        index[c[0]] = k
    return index[db_ids], [c[1] for c in clusters], [c[3] for c in clusters]


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
    sizes = summaries.sizes
    candidates = [i for i in range(len(summaries))
                  if summaries.flagged[i] > 0 and sizes[i] >= min_size]
    if candidates:
        # most flags relative to size, then size: a cluster where something visibly happens
        return max(candidates, key=lambda i: (summaries.flagged[i] / sizes[i], sizes[i]))
    return int(np.argmax(sizes))


# ------------------------------------------------------------------------- similarity picture


@dataclass(frozen=True)
class SimilarityPicture:
    """The two similarity sets behind one image's SDD in one repetition, and their distance."""

    index: int
    repeat: int
    pos: np.ndarray
    neg: np.ndarray
    w1: float
    pos_mean: float
    neg_mean: float


def private_embeddings(path: str | Path) -> np.ndarray:
    """The embeddings file memory-mapped copy-on-write: pages are read lazily like a read-only
    map, but a computation that normalises rows in place writes to private memory instead of
    failing on (or changing) the project's file."""
    return np.load(path, mmap_mode="c", allow_pickle=False)


def run_similarity_params(params: dict | None) -> dict:
    """The keyword arguments of `similarity_sets` that reproduce a stored scoring run."""
    params = params or {}
    return {"seed": int(params.get("seed", 0)),
            "positives": int(params.get("positives", 24)),
            "negatives": int(params.get("negatives", 24)),
            "exact": bool(params.get("exact", False))}


def similarity_picture(embeddings: np.ndarray, labels: np.ndarray, index: int,
                       params: dict | None = None, repeat: int = 0) -> SimilarityPicture:
    """The positive and negative similarity sets the scoring run used for image `index`
    (repetition `repeat`), with W1 between them and their means.

    Raises ImportError while the scoring package is not installed.
    """
    from fiqa_gui.core.scoring.sdd import similarity_sets

    pos, neg = similarity_sets(embeddings, labels, index, repeat=repeat,
                               **run_similarity_params(params))
    pos = np.asarray(pos, dtype=float).ravel()
    neg = np.asarray(neg, dtype=float).ravel()
    if len(pos) and len(neg):
        from scipy.stats import wasserstein_distance

        w1 = float(wasserstein_distance(pos, neg))
    else:
        w1 = math.nan
    return SimilarityPicture(index=index, repeat=repeat, pos=pos, neg=neg, w1=w1,
                             pos_mean=float(pos.mean()) if len(pos) else math.nan,
                             neg_mean=float(neg.mean()) if len(neg) else math.nan)


# ------------------------------------------------------------------------- load and score


@dataclass
class ReviewData:
    """Everything the review window needs from an open project, loaded once off the GUI thread."""

    project: object  # fiqa_gui.core.store.Project (kept untyped: avoids an import cycle)
    dataset: object  # fiqa_gui.core.dataset.Dataset
    labels: np.ndarray
    index: ClusterIndex
    summaries: ClusterSummaries
    run: object | None  # RunInfo of the displayed run
    scores: dict | None
    explanations: dict = field(default_factory=dict)  # image id -> [(flag, why)]
    cluster_explanations: dict = field(default_factory=dict)  # cluster index -> [(flag, why)]
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        return self.project.folder

    @property
    def rankable(self) -> tuple[str, ...]:
        return rankable(self.scores)

    @property
    def score_names(self) -> list[str]:
        """Numeric columns of the run with at least one value (cached)."""
        if "names" not in self._cache:
            self._cache["names"] = score_names(self.scores)
        return self._cache["names"]

    @property
    def n_images(self) -> int:
        return len(self.labels)

    def tiers(self, by: str) -> np.ndarray:
        """Predicted tiers from score `by` (cached)."""
        key = ("tiers", by)
        if key not in self._cache:
            if self.scores is None or by not in self.scores:
                self._cache[key] = np.full(self.n_images, TIER_NONE, dtype=np.int8)
            else:
                self._cache[key] = score_tiers(self.scores[by])
        return self._cache[key]

    def rank(self, cluster_id: int, by: str, descending: bool = True) -> np.ndarray:
        if self.scores is None:
            return self.index.members(cluster_id).copy()
        return rank_cluster(self.scores, self.labels, cluster_id, by, descending,
                            members=self.index.members(cluster_id))

    def flags_of(self, i: int) -> list[str]:
        """Every flag on image `i` (its own and its cluster's)."""
        if self.scores is None:
            return []
        return list(self.scores["flags"][i])

    def close(self) -> None:
        self.project.close()


def load_review(source, *, progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> ReviewData:
    """Read what the window shows (latest scoring run, if any) from a project folder, which is
    opened (and closed again on failure), or from an already open `Project` (reloading after a
    new run; the project stays open whatever happens)."""
    from fiqa_gui.core.store import Project

    progress(0, 4, "opening project")
    owned = not isinstance(source, Project)
    project = Project.open(source) if owned else source
    try:
        progress(1, 4, "reading images")
        ds = project.dataset()
        if cancel is not None:
            cancel.check()
        labels = np.asarray(ds.labels, dtype=np.int64)
        run = project.latest_run("score")
        progress(2, 4, "reading scores")
        scores = project.scores(run.id) if run is not None else None
        if cancel is not None:
            cancel.check()
        progress(3, 4, "summarising clusters")
        state = {c[1]: c[3] for c in project.clusters()}
        summaries = summarize_clusters(labels, ds.cluster_names,
                                       [state.get(n, "unreviewed") for n in ds.cluster_names],
                                       scores)
        index = ClusterIndex(labels, len(ds.cluster_names))
        explanations, cluster_explanations = _explanations(project, run, ds.cluster_names)
        progress(4, 4, "ready")
    except BaseException:
        if owned:
            project.close()
        raise
    rv = ReviewData(project=project, dataset=ds, labels=labels, index=index,
                    summaries=summaries, run=run, scores=scores, explanations=explanations,
                    cluster_explanations=cluster_explanations)
    for name in rv.rankable:  # the GUI thread then finds them ready
        rv.tiers(name)
    rv.score_names  # noqa: B018 - computed here, cached for the GUI thread
    return rv


def _explanations(project, run, names: Sequence[str]) -> tuple[dict, dict]:
    """Why each flag was raised, as stored with the run: {image id: [(flag, text)]} and
    {cluster index: [(flag, text)]} (cluster index in `names` order)."""
    per_image: dict[int, list[tuple[str, str]]] = {}
    per_cluster: dict[int, list[tuple[str, str]]] = {}
    if run is None or not hasattr(project, "flag_details"):
        return per_image, per_cluster
    index_of_name = {n: k for k, n in enumerate(names)}
    name_of_id = dict(project.conn.execute("SELECT id, name FROM clusters"))
    for d in project.flag_details(run.id):
        item = (d["flag"], d["explanation"])
        if d.get("image_id") is not None:
            per_image.setdefault(int(d["image_id"]), []).append(item)
        elif d.get("cluster_id") is not None:
            k = index_of_name.get(name_of_id.get(d["cluster_id"]))
            if k is not None:
                per_cluster.setdefault(k, []).append(item)
    return per_image, per_cluster


@functools.lru_cache(maxsize=1)
def scoring_available() -> bool:
    """Whether the scoring code is installed, found without importing it (importing it loads
    torch, a second or more: too slow for a GUI thread). A broken installation still fails
    loudly when scoring starts."""
    from importlib.util import find_spec

    try:
        if find_spec("torch") is None or find_spec("fiqa_gui.core.project_scoring") is None:
            return False
        spec = find_spec("fiqa_gui.core.scoring")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(loc) / "pipeline.py").is_file() for loc in spec.submodule_search_locations)
