"""Everything the review window needs from an open project, loaded once off the GUI
thread (`load_review`), with the flag explanations stored with the run."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.review.annotations import Annotations
from fiqa_gui.core.review.clusters import (
    ClusterIndex,
    ClusterSummaries,
    cluster_layout,
    summarize_clusters,
)
from fiqa_gui.core.review.codes import CLUSTER_FLAGS, SCORE_RUN_KINDS, TIER_NONE
from fiqa_gui.core.review.rank_shift import RankShift, rank_shift
from fiqa_gui.core.review.score_columns import rank_cluster, rankable, score_names, score_tiers


@dataclass
class ReviewData:
    """Everything the review window needs from an open project, loaded once off the GUI thread;
    the curator's edits are re-read from the store for exactly what they touched."""

    project: object  # fiqa_gui.core.store.Project (kept untyped: avoids an import cycle)
    dataset: object  # fiqa_gui.core.dataset.Dataset
    labels: np.ndarray
    index: ClusterIndex
    summaries: ClusterSummaries
    run: object | None  # RunInfo of the displayed run
    scores: dict | None
    explanations: dict = field(default_factory=dict)  # image id -> [(flag, why)]
    cluster_explanations: dict = field(default_factory=dict)  # cluster index -> [(flag, why)]
    annotations: Annotations | None = None
    cluster_db_ids: np.ndarray | None = None  # database id of each cluster index
    runs: list = field(default_factory=list)  # RunInfo of every run the window can show
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.annotations is None:
            self.annotations = Annotations.empty(len(self.labels))
        if self.cluster_db_ids is None:
            self.cluster_db_ids = np.asarray(self.summaries.ids, dtype=np.int64)

    @property
    def folder(self) -> Path:
        return self.project.folder

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.project, "read_only", False))

    @property
    def rankable(self) -> tuple[str, ...]:
        """Scores the gallery can rank by (cached: it scans whole columns)."""
        if "rankable" not in self._cache:
            self._cache["rankable"] = rankable(self.scores)
        return self._cache["rankable"]

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

    @property
    def tier_source(self) -> str | None:
        """The score the computed tier comes from: the anchored `quality` when the run has it,
        else SDD; None before scoring."""
        if self.scores is None:
            return None
        return "quality" if "quality" in self.rankable else "sdd"

    def computed_tiers(self) -> np.ndarray:
        """Tier from the dataset's terciles of `tier_source` (TIER_NONE where unscored)."""
        source = self.tier_source
        return self.tiers(source) if source else np.full(self.n_images, TIER_NONE, np.int8)

    def shown_tiers(self, ids) -> np.ndarray:
        """The tier a curator sees: theirs where set, else the computed one."""
        ids = np.asarray(ids, dtype=np.int64)
        mine = self.annotations.tier[ids]
        return np.where(mine != TIER_NONE, mine, self.computed_tiers()[ids]).astype(np.int8)

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

    def image_flag_mask(self, ids, flag: str | None = None) -> np.ndarray:
        """Which of these images carry an image-level flag (`flag`, or any when None)."""
        if self.scores is None:
            return np.zeros(len(ids), dtype=bool)
        fl = self.scores["flags"]
        if flag is None:
            return np.fromiter((any(f not in CLUSTER_FLAGS for f in fl[i]) for i in ids),
                               bool, len(ids))
        return np.fromiter((flag in fl[i] for i in ids), bool, len(ids))

    def rank_shift(self, cluster_id: int) -> RankShift | None:
        """SDD → quality rank movement inside one cluster (cached until clusters change)."""
        key = ("shift", cluster_id)
        if key not in self._cache:
            self._cache[key] = rank_shift(self.scores, self.index.members(cluster_id))
        return self._cache[key]

    # ----------------------------------------------------------------- refresh after edits
    def refresh_annotations(self, image_ids) -> None:
        self.annotations.refresh(self.project, image_ids)

    def refresh_review_states(self) -> None:
        state = dict(self.project.conn.execute("SELECT id, review_state FROM clusters"))
        self.summaries.review_state = [state.get(int(c), "unreviewed")
                                       for c in self.cluster_db_ids]

    def cluster_index_of(self, db_id: int) -> int:
        """The cluster index of a database cluster id, -1 if it has no image (or is gone)."""
        hits = np.flatnonzero(self.cluster_db_ids == int(db_id))
        return int(hits[0]) if len(hits) else -1

    def reload_clusters(self) -> None:
        """Re-read cluster membership after images were moved or clusters merged: labels,
        summaries, index and the cluster explanations (scores stay those of the run)."""
        labels, names, states, db_ids = cluster_layout(self.project)
        self.labels = labels
        self.cluster_db_ids = db_ids
        self.summaries = summarize_clusters(labels, names, states, self.scores)
        self.index = ClusterIndex(labels, len(names))
        self.explanations, self.cluster_explanations = _explanations(
            self.project, self.run, names, labels, self.summaries, self.scores)
        for key in [k for k in self._cache if isinstance(k, tuple) and k[0] == "shift"]:
            del self._cache[key]

    def close(self) -> None:
        self.project.close()


def score_runs(project) -> list:
    """The runs the window can show (one score row per image), oldest first."""
    return [r for r in project.runs() if r.kind in SCORE_RUN_KINDS]


def load_review(source, *, run_id: int | None = None, read_only: bool = False,
                progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> ReviewData:
    """Read what the window shows from a project folder, which is opened (read-only when asked;
    closed again on failure), or from an already open `Project` (reloading after a new run;
    the project stays open whatever happens). `run_id` picks the run shown; default the newest
    scoring or re-scoring run."""
    from fiqa_gui.core.store import Project

    progress(0, 4, "opening project")
    owned = not isinstance(source, Project)
    project = Project.open(source, read_only=read_only) if owned else source
    try:
        progress(1, 4, "reading images")
        ds = project.dataset()
        if cancel is not None:
            cancel.check()
        labels = np.asarray(ds.labels, dtype=np.int64)
        runs = score_runs(project)
        run = next((r for r in runs if r.id == run_id), None) if run_id is not None else (
            runs[-1] if runs else None)
        if run_id is not None and run is None:
            from fiqa_gui.core.store.project import ProjectError

            raise ProjectError(f"run {run_id} is not a scoring run of this project",
                               file=project.folder, fix="pick another run.")
        progress(2, 4, "reading scores")
        scores = project.scores(run.id) if run is not None else None
        if cancel is not None:
            cancel.check()
        progress(3, 4, "summarising clusters")
        by_name = {c[1]: c for c in project.clusters()}
        summaries = summarize_clusters(
            labels, ds.cluster_names,
            [by_name[n][3] if n in by_name else "unreviewed" for n in ds.cluster_names], scores)
        db_ids = np.array([by_name[n][0] for n in ds.cluster_names], dtype=np.int64)
        index = ClusterIndex(labels, len(ds.cluster_names))
        explanations, cluster_explanations = _explanations(project, run, ds.cluster_names,
                                                           labels, summaries, scores)
        annotations = Annotations.load(project, len(labels))
        progress(4, 4, "ready")
    except BaseException:
        if owned:
            project.close()
        raise
    rv = ReviewData(project=project, dataset=ds, labels=labels, index=index,
                    summaries=summaries, run=run, scores=scores, explanations=explanations,
                    cluster_explanations=cluster_explanations, annotations=annotations,
                    cluster_db_ids=db_ids, runs=runs)
    for name in rv.rankable:  # the GUI thread then finds them ready
        rv.tiers(name)
    rv.score_names  # noqa: B018 - computed here, cached for the GUI thread
    return rv


def _explanations(project, run, names: Sequence[str], labels: np.ndarray | None = None,
                  summaries: ClusterSummaries | None = None,
                  scores: dict | None = None) -> tuple[dict, dict]:
    """Why each flag was raised, as stored with the run: {image id: [(flag, text)]} and
    {cluster index: [(flag, text)]} (cluster index in `names` order). A cluster-level score
    shift has no stored text of its own (its images carry the numbers): it gets a summary."""
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
    if labels is not None and summaries is not None and scores is not None:
        counts: dict[int, int] = {}
        for i, f in enumerate(scores["flags"]):
            if "score_shift" in f:
                counts[int(labels[i])] = counts.get(int(labels[i]), 0) + 1
        for k, fl in enumerate(summaries.flags):
            if "cluster_score_shift" in fl and not any(
                    f in ("score_shift", "cluster_score_shift") for f, _ in per_cluster.get(k, [])):
                n = counts.get(k, 0)
                per_cluster.setdefault(k, []).append((
                    "cluster_score_shift",
                    (f"{n} image(s) of this cluster are" if n else "Images of this cluster were")
                    + " among its best by model-free quality, yet SDD or CR ranks them in its "
                    "lower half: a mutually similar majority sets the cluster's scores. "
                    "F steps to them; the Quality ranking corrects for it."))
    return per_image, per_cluster


@functools.lru_cache(maxsize=1)
def scoring_available() -> bool:
    """Whether the scoring code is installed, found without importing it (importing it loads
    torch, a second or more: too slow for a GUI thread). A broken installation still fails
    loudly when scoring starts."""
    from importlib.util import find_spec

    try:
        if find_spec("torch") is None or find_spec("fiqa_gui.core.labels.project_scoring") is None:
            return False
        spec = find_spec("fiqa_gui.core.scoring")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(loc) / "pipeline.py").is_file() for loc in spec.submodule_search_locations)
