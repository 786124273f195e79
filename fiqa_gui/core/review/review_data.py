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
    image_flags,
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

    def present_image_flags(self) -> set[str]:
        """The image-level flags any image of the run carries (cached: it reads every image's
        flags, so `load_review` computes it off the GUI thread)."""
        if "present_flags" not in self._cache:
            present: set[str] = set()
            if self.scores is not None:
                for f in set(map(tuple, self.scores["flags"])):
                    present.update(image_flags(f))
            self._cache["present_flags"] = present
        return set(self._cache["present_flags"])

    def flag_index(self):
        """The run's `dataset_views.FlagIndex` — one mask per flag, what the dataset-wide views
        and their counts read (cached; `load_review` builds it off the GUI thread). None
        before the project is scored."""
        if "flag_index" not in self._cache:
            from fiqa_gui.core.review.dataset_views import FlagIndex

            self._cache["flag_index"] = (FlagIndex(self.scores["flags"])
                                         if self.scores is not None else None)
        return self._cache["flag_index"]

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
    rv.present_image_flags()
    rv.flag_index()
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


# ----------------------------------------------------------------------------- one cluster's seeds
def _rows_for(project, sql: str, ids: np.ndarray, *args) -> list[tuple]:
    """`sql` (with `IN ids` spelled `IN (SELECT value FROM json_each(?))`) over some image ids:
    one indexed look-up per image, never a scan of the dataset."""
    import json

    return project.conn.execute(sql, (*args, json.dumps([int(i) for i in ids]))).fetchall()


def subcluster_labels(project, run_id: int, level: int, ids: np.ndarray) -> np.ndarray:
    """`seedsets.clustering.load_level(project, run_id, level)[ids]` (-1 for an image the run
    does not cover) by indexed look-ups of these images only."""
    from fiqa_gui.core.errors import UserInputError

    ids = np.asarray(ids, dtype=np.int64)
    out = np.full(len(ids), -1, dtype=np.int64)
    got = _rows_for(project, "SELECT image_id, label FROM subclusters WHERE run_id = ? AND "
                    "level = ? AND image_id IN (SELECT value FROM json_each(?))",
                    ids, int(run_id), int(level))
    if not got and project.conn.execute(
            "SELECT 1 FROM subclusters WHERE run_id = ? AND level = ? LIMIT 1",
            (int(run_id), int(level))).fetchone() is None:
        raise UserInputError(f"clustering run {run_id} has no level {level}",
                             fix="pick a level listed by 'fiqa-gui info PROJECT'.")
    if got:
        image_ids, labels = np.array(got, dtype=np.int64).T
        out[np.searchsorted(ids, image_ids)] = labels  # ids ascending (a cluster's members)
    return out


def cluster_sampling_inputs(rv: ReviewData, cluster_id: int, params, project=None):
    """What `seedsets.sampling.load_inputs` reads, for one cluster's images only (rows = its
    members, ascending), from the scores the window holds and indexed look-ups of the store: the
    same strata and quotas at a cost that grows with the cluster, not the dataset. None when the
    window shows another run than the one sampling uses (the newest scored run), or for a
    sub-cluster level without a clustering run (`propose_seeds` then explains). The store is
    read through `project` (a worker thread's own read-only handle), else `rv.project`."""
    from fiqa_gui.core.errors import UserInputError
    from fiqa_gui.core.labels.eligibility import BLANK_IQ, BLANK_LUMINANCE_STD
    from fiqa_gui.core.seedsets import clustering
    from fiqa_gui.core.seedsets.sampling import ProjectInputs, latest_score_run

    project = rv.project if project is None else project
    run_id = latest_score_run(project)
    if run_id is not None and (rv.run is None or rv.run.id != run_id or rv.scores is None):
        return None
    ids = rv.index.members(cluster_id)
    m = len(ids)
    db = int(rv.cluster_db_ids[cluster_id])
    excluded = np.asarray(rv.dataset.unreadable, dtype=bool)[ids].copy()
    scores, column = np.full(m, np.nan), None
    if run_id is not None:
        s = rv.scores
        column = "quality" if np.isfinite(np.asarray(s["quality"], float)).any() else "sdd"
        scores = np.asarray(s[column], dtype=float)[ids]
        flags = s["flags"]
        suspect = np.fromiter(("identity_suspect" in ";".join(flags[i]).lower() for i in ids),
                              bool, m)
        with np.errstate(invalid="ignore"):
            blank = np.asarray(s["iq"], float)[ids] < BLANK_IQ
            if "luminance_variance" in s:
                blank |= np.asarray(s["luminance_variance"], float)[ids] \
                    < BLANK_LUMINANCE_STD ** 2
        excluded |= suspect | blank
    tiers = np.full(m, None, dtype=object)
    seed_state = np.full(m, None, dtype=object)
    row = {int(i): k for k, i in enumerate(ids)}
    for image_id, tier, wrong, state in _rows_for(
            project, "SELECT image_id, tier, wrong_identity, seed_state FROM annotations "
            "WHERE image_id IN (SELECT value FROM json_each(?))", ids):
        k = row[image_id]
        tiers[k], seed_state[k] = tier, state
        if wrong:
            excluded[k] = True
    if params.exclude_rejected:
        excluded |= seed_state == "rejected"
    level, cluster_run_id, subclusters = params.subcluster_level, None, None
    if level is not None:
        cluster_run_id = clustering.latest_clustering_run(project, within_clusters=True)
        if cluster_run_id is None and level != "auto":
            return None  # `propose_seeds` says why it cannot
        if cluster_run_id is not None:
            if level == "auto":
                levels = clustering.load_levels(project, cluster_run_id)
                level = levels[len(levels) // 2][0]
            subclusters = subcluster_labels(project, cluster_run_id, int(level), ids)
        else:
            level = None
    attributes = {}
    for name in params.attributes:
        if name not in rv.dataset.attributes:
            raise UserInputError(f"no attribute column {name!r}", file=project.folder,
                                 fix="use one of: "
                                 f"{', '.join(sorted(rv.dataset.attributes)) or '(none)'}.")
        values = rv.dataset.attributes[name]
        attributes[name] = [values[int(i)] for i in ids]
    return ProjectInputs(np.full(m, db, dtype=np.int64), scores, column, run_id, tiers, excluded,
                         seed_state == "approved", seed_state, subclusters,
                         cluster_run_id if subclusters is not None else None,
                         None if level is None else int(level), attributes)


@dataclass
class SeedPreview:
    """One cluster's preview, ready to sample: its rows' sampling inputs and embeddings copied
    out of the window's data (`cluster_seed_preview`), so that `run()` — the farthest-point
    sampling, plain numpy — can go to a worker thread while the GUI thread reads the store."""

    ids: np.ndarray  # the cluster's image ids, ascending (row j is image ids[j])
    db: int  # the cluster's database id
    embeddings: np.ndarray
    inputs: object  # seedsets.sampling.ProjectInputs of these rows
    params: object  # seedsets.sampling.SamplingParams

    def run(self):
        """The `Proposal` (image ids, not rows) `propose_seeds` would make for the cluster."""
        from fiqa_gui.core.seedsets.sampling import Proposal, stratified_sample

        inp, ids = self.inputs, self.ids
        local = stratified_sample(
            self.embeddings, inp.clusters, inp.scores, self.params,
            curator_tiers=inp.curator_tiers, excluded=inp.excluded, subclusters=inp.subclusters,
            attributes=inp.attributes, approved=inp.approved, cluster_ids=[self.db])
        back = {c: [int(ids[j]) for j in js] for c, js in local.picks.items()}
        kept = {c: [int(ids[j]) for j in js] for c, js in local.kept.items()}
        proposal = Proposal(back, kept, {int(ids[j]): k for j, k in local.strata.items()},
                            local.coverage, local.params)
        proposal.params.update({"score_run_id": inp.score_run_id,
                                "score_column": inp.score_column,
                                "cluster_run_id": inp.cluster_run_id, "level": inp.level})
        return proposal


def cluster_seed_preview(rv: ReviewData, cluster_id: int, params,
                         project=None) -> SeedPreview | None:
    """What one cluster's preview samples from (indexed look-ups of the cluster's rows through
    `project`, a thread's own handle, else `rv.project`); None where the window shows an older
    run than sampling uses (`propose_seeds` itself then answers)."""
    project = rv.project if project is None else project
    inp = cluster_sampling_inputs(rv, cluster_id, params, project)
    if inp is None:
        return None
    if "embeddings" not in rv._cache:
        rv._cache["embeddings"] = project.embeddings()
    emb = rv._cache["embeddings"]
    if emb is None:
        from fiqa_gui.core.errors import UserInputError

        raise UserInputError("seed sampling needs the embeddings (diversity is measured on them)",
                             file=rv.project.folder, fix="create the project with --embeddings.")
    ids = rv.index.members(cluster_id)
    return SeedPreview(ids.copy(), int(rv.cluster_db_ids[cluster_id]), np.asarray(emb[ids]),
                       inp, params)


def preview_cluster_seeds(rv: ReviewData, cluster_id: int, params, project=None):
    """The proposal `propose_seeds(project, params=params, cluster_ids=[db id])` would make for
    one cluster, sampled from that cluster's rows alone (image ids mapped back); falls back to
    `propose_seeds` itself where the window shows an older run. `project`: a thread's own
    handle on the store (default `rv.project`)."""
    from fiqa_gui.core.seedsets.sampling import propose_seeds

    project = rv.project if project is None else project
    preview = cluster_seed_preview(rv, cluster_id, params, project)
    if preview is None:
        return propose_seeds(project, params=params,
                             cluster_ids=[int(rv.cluster_db_ids[cluster_id])])
    return preview.run()
