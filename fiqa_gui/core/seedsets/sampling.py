"""Stratified seed sampling: per cluster, a small set covering high, mid and low quality, distinct
looks (sub-clusters) and attribute values — not a random sample, not the top-k by score.

Strata are tier x sub-cluster (at a chosen clustering level) x chosen attribute columns.
- Tier: the curator's tier where set (`use_curator_tiers`), else from the score: `quality`, or
  `sdd` when the run has no quality values. Boundaries are within-cluster quantiles (default: the
  bottom third is low, the top third high) or global score thresholds. Images without a score
  are tier "unscored". Unusable, wrong-identity, unreadable and rejected images are never picked,
  nor images the score run marks `identity_suspect` or near-blank (`labels.eligibility`): a
  possibly different person or a frame with nothing on it cannot stand for the cluster.
- Quota per tier (default high 3, mid 2, low 2, unscored 2). A tier's quota is dealt over its
  strata round-robin, largest stratum first, so distinct looks are covered before any repeats.
- Within a stratum the pick is the image farthest (cosine) from everything already picked in the
  cluster (farthest-point sampling); the very first pick is a seeded random start. Approved seeds
  are kept, count toward the quotas and anchor the distances.
- Clusters smaller than the quota give what they have; the coverage report shows the shortfall
  (`fill=True` tops a short cluster up from other tiers instead).
Same inputs and seed give the same picks; each cluster's picks depend only on that cluster.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.seedsets import clustering

TIERS = ("high", "mid", "low")
UNSCORED = "unscored"
SAMPLED_TIERS = (*TIERS, UNSCORED)
DEFAULT_QUOTAS = {"high": 3, "mid": 2, "low": 2, UNSCORED: 2}
TIER_MODES = ("quantile", "global")


@dataclass(frozen=True)
class SamplingParams:
    """How to sample; stored with each proposal so a swap can rebuild the same strata."""

    quotas: dict = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    tier_mode: str = "quantile"
    quantiles: tuple[float, float] = (1 / 3, 2 / 3)   # low below q1, high from q2 (per cluster)
    thresholds: tuple[float, float] | None = None      # global mode: low < t1 <= mid < t2 <= high
    use_curator_tiers: bool = True
    subcluster_level: int | str | None = "auto"        # "auto": middle level of latest run
    attributes: tuple[str, ...] = ()
    seed: int = 0
    fill: bool = False
    exclude_rejected: bool = True

    def __post_init__(self) -> None:
        if self.tier_mode not in TIER_MODES:
            raise UserInputError(f"unknown tier mode {self.tier_mode!r}",
                                 fix=f"use one of {', '.join(TIER_MODES)}.")
        bad = {t: q for t, q in self.quotas.items()
               if t not in SAMPLED_TIERS or not isinstance(q, int | np.integer) or q < 0}
        if bad:
            raise UserInputError(f"bad quota(s) {bad}",
                                 fix="give whole numbers >= 0 for high, mid, low, unscored.")
        q1, q2 = self.quantiles
        if not 0 <= q1 <= q2 <= 1:
            raise UserInputError(f"quantiles must satisfy 0 <= q1 <= q2 <= 1 (got {q1}, {q2})")
        if self.tier_mode == "global":
            if self.thresholds is None or self.thresholds[0] > self.thresholds[1]:
                raise UserInputError("global tiers need two score thresholds low <= high",
                                     fix="pass e.g. --thresholds 40,70.")

    def quota(self, tier: str) -> int:
        return int(self.quotas.get(tier, 0))

    def to_json(self) -> dict:
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        d["thresholds"] = list(self.thresholds) if self.thresholds is not None else None
        d["attributes"] = list(self.attributes)
        return d

    @classmethod
    def from_json(cls, d: dict) -> SamplingParams:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "quantiles" in known:
            known["quantiles"] = tuple(known["quantiles"])
        if known.get("thresholds") is not None:
            known["thresholds"] = tuple(known["thresholds"])
        if "attributes" in known:
            known["attributes"] = tuple(known["attributes"])
        return cls(**known)


# ----------------------------------------------------------------------------- tiers
def assign_tiers(scores: np.ndarray, clusters: np.ndarray, *, mode: str = "quantile",
                 quantiles: tuple[float, float] = (1 / 3, 2 / 3),
                 thresholds: tuple[float, float] | None = None,
                 curator: np.ndarray | None = None,
                 eligible: np.ndarray | None = None) -> np.ndarray:
    """Tier of every image: 'high' / 'mid' / 'low', 'unscored' (no score), or the curator's tier.

    Quantile mode ranks each cluster's eligible scored images (ties by row) and places image r of
    m at (r + 0.5) / m: low below q1, high from q2, mid between (1 image: mid; 2: low, high).
    """
    scores = np.asarray(scores, dtype=float)
    clusters = np.asarray(clusters)
    n = len(scores)
    out = np.full(n, UNSCORED, dtype="<U8")
    ok = np.isfinite(scores)
    if eligible is not None:
        ok &= eligible
    if mode == "global":
        t1, t2 = thresholds
        s = scores[ok]
        out[ok] = np.where(s >= t2, "high", np.where(s < t1, "low", "mid"))
    else:
        idx = np.flatnonzero(ok)
        order = idx[np.lexsort((idx, scores[idx], clusters[idx]))]
        c = clusters[order]
        start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        size = np.diff(np.r_[start, len(order)])
        group = np.repeat(np.arange(len(start)), size)
        rank = np.arange(len(order)) - start[group]
        frac = (rank + 0.5) / size[group]
        q1, q2 = quantiles
        out[order] = np.where(frac >= q2, "high", np.where(frac < q1, "low", "mid"))
    if curator is not None:
        cur = np.asarray(curator, dtype=object)
        has = np.array([v in TIERS or v == "unusable" for v in cur], dtype=bool)
        out = out.astype("<U8")
        out[has] = cur[has].astype("<U8")
    return out


# ----------------------------------------------------------------------------- farthest point
def farthest_point_order(x: np.ndarray, n_pick: int, *, start: int | None = None,
                         anchors: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Greedy farthest-point sampling (cosine distance) of up to `n_pick` rows of `x`.

    The first pick is `start`, or the row farthest from `anchors`, or a seeded random row.
    """
    x = _unit(x)
    m = len(x)
    n_pick = min(n_pick, m)
    mind = np.full(m, np.inf)
    if anchors is not None and len(anchors):
        mind = np.min(1.0 - _unit(anchors) @ x.T, axis=0)
    picks: list[int] = []
    for _ in range(n_pick):
        if not picks and start is None and not np.isfinite(mind).any():
            j = int(np.random.default_rng(seed).integers(m))
        elif not picks and start is not None:
            j = int(start)
        else:
            masked = mind.copy()
            masked[picks] = -np.inf
            j = int(np.argmax(masked))
        picks.append(j)
        mind = np.minimum(mind, 1.0 - x @ x[j])
    return np.asarray(picks, dtype=np.int64)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def min_pairwise_distance(x: np.ndarray) -> float:
    """Smallest cosine distance between two rows (the spread farthest-point sampling maximises)."""
    x = _unit(x)
    if len(x) < 2:
        return math.inf
    d = 1.0 - x @ x.T
    np.fill_diagonal(d, np.inf)
    return float(d.min())


# ----------------------------------------------------------------------------- one cluster
@dataclass
class StratumCoverage:
    """One stratum of one cluster: how many eligible images, how many wanted, how many picked."""

    cluster_id: int
    tier: str
    subcluster: int | None
    attributes: tuple[str, ...]
    available: int
    quota: int
    picked: int

    @property
    def key(self) -> tuple:
        return (self.tier, self.subcluster, *self.attributes)


def sample_cluster(x: np.ndarray, keys: list[tuple], params: SamplingParams, *,
                   cluster_id: int = 0, kept: np.ndarray | None = None
                   ) -> tuple[np.ndarray, list[StratumCoverage]]:
    """Pick seeds among one cluster's eligible images (rows of `x`, strata `keys[i]`, whose first
    element is the tier). `kept` marks rows already approved: they count and anchor distances.
    Returns (new picks as row indices in pick order, coverage per stratum)."""
    m = len(keys)
    kept = np.zeros(m, dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
    xu = _unit(x)
    mind = np.full(m, np.inf)
    for j in np.flatnonzero(kept):
        mind = np.minimum(mind, 1.0 - xu @ xu[j])
    taken = kept.copy()
    members: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    allocated: dict[tuple, int] = defaultdict(int)
    rng = np.random.default_rng([int(params.seed), int(cluster_id) & 0x7FFFFFFF])
    picks: list[int] = []

    def pick_from(rows: list[int]) -> int | None:
        free = [r for r in rows if not taken[r]]
        if not free:
            return None
        if not taken.any():
            j = free[int(rng.integers(len(free)))]  # seeded start
        else:
            j = free[int(np.argmax(mind[free]))]     # farthest from everything picked
        taken[j] = True
        picks.append(j)
        mind[:] = np.minimum(mind, 1.0 - xu @ xu[j])
        return j

    for tier in SAMPLED_TIERS:
        strata = sorted((k for k in members if k[0] == tier),
                        key=lambda k: (-len(members[k]), _sort_key(k)))
        have = {k: int(kept[members[k]].sum()) for k in strata}
        need = params.quota(tier) - sum(have.values())
        while need > 0:
            progressed = False
            for k in strata:  # round-robin: one more per stratum that still has images
                if need <= 0:
                    break
                if pick_from(members[k]) is not None:
                    allocated[k] += 1
                    need -= 1
                    progressed = True
            if not progressed:
                break
    if params.fill:
        want = sum(params.quota(t) for t in SAMPLED_TIERS)
        while int(taken.sum()) < want and pick_from(list(range(m))) is not None:
            k = keys[picks[-1]]
            allocated[k] += 1
    coverage = []
    for k in sorted(members, key=_sort_key):
        rows = members[k]
        n_kept = int(kept[rows].sum())
        coverage.append(StratumCoverage(
            int(cluster_id), k[0], k[1] if len(k) > 1 else None, tuple(k[2:]), len(rows),
            n_kept + allocated[k], n_kept + allocated[k]))
    return np.asarray(picks, dtype=np.int64), coverage


def _sort_key(key: tuple) -> tuple:
    tier_rank = SAMPLED_TIERS.index(key[0]) if key[0] in SAMPLED_TIERS else len(SAMPLED_TIERS)
    return (tier_rank, *(("" if v is None else str(v)) for v in key[1:]))


# ----------------------------------------------------------------------------- whole dataset
@dataclass
class Proposal:
    """Per cluster: new picks (image ids, pick order), approved seeds kept, and coverage."""

    picks: dict[int, list[int]]
    kept: dict[int, list[int]]
    strata: dict[int, tuple]
    coverage: list[StratumCoverage]
    params: dict

    def image_ids(self) -> list[int]:
        return sorted(i for ids in self.picks.values() for i in ids)

    @property
    def cluster_ids(self) -> list[int]:
        return sorted(set(self.picks) | set(self.kept))

    def coverage_rows(self) -> list[dict]:
        """Flat rows for a table or CSV: cluster, tier, subcluster, attributes, counts."""
        return [{"cluster_id": c.cluster_id, "tier": c.tier, "subcluster": c.subcluster,
                 "attributes": "|".join(c.attributes), "available": c.available,
                 "quota": c.quota, "picked": c.picked} for c in self.coverage]

    def tier_summary(self) -> dict[str, dict[str, int]]:
        """Per tier over all clusters: available, wanted (quota x clusters), picked."""
        out = {t: {"available": 0, "wanted": 0, "picked": 0} for t in SAMPLED_TIERS}
        quotas = self.params.get("sampling", {}).get("quotas", {})
        seen: set[tuple[int, str]] = set()
        for c in self.coverage:
            if c.tier not in out:
                continue
            out[c.tier]["available"] += c.available
            out[c.tier]["picked"] += c.picked
            if (c.cluster_id, c.tier) not in seen:
                seen.add((c.cluster_id, c.tier))
                out[c.tier]["wanted"] += int(quotas.get(c.tier, 0))
        return out


def stratified_sample(embeddings: np.ndarray, clusters: np.ndarray, scores: np.ndarray,
                      params: SamplingParams = SamplingParams(), *,
                      curator_tiers: np.ndarray | None = None,
                      excluded: np.ndarray | None = None,
                      subclusters: np.ndarray | None = None,
                      attributes: dict[str, list[str]] | None = None,
                      approved: np.ndarray | None = None,
                      cluster_ids: list[int] | None = None,
                      progress: ProgressCallback = no_progress,
                      cancel: CancelToken | None = None) -> Proposal:
    """Sample seeds for every cluster (or `cluster_ids`) from plain arrays, one row per image.

    `excluded` rows are never picked (unusable, wrong identity, unreadable, rejected);
    `approved` rows are kept as seeds; `subclusters` / `attributes` add strata.
    """
    clusters = np.asarray(clusters)
    n = len(clusters)
    excluded = np.zeros(n, bool) if excluded is None else np.asarray(excluded, bool)
    approved = np.zeros(n, bool) if approved is None else np.asarray(approved, bool)
    cur = None
    if curator_tiers is not None:
        cur = np.asarray(curator_tiers, dtype=object)
        excluded = excluded | (cur == "unusable")  # unusable is never a seed, whatever the mode
        if not params.use_curator_tiers:
            cur = None
    eligible = ~excluded
    approved = approved & eligible  # an approved image marked unusable/wrong since is dropped
    tiers = assign_tiers(scores, clusters, mode=params.tier_mode, quantiles=params.quantiles,
                         thresholds=params.thresholds, curator=cur, eligible=eligible)
    attrs = [list(attributes[a]) for a in params.attributes] if attributes else []
    order = np.argsort(clusters, kind="stable")
    bounds = np.flatnonzero(np.r_[True, clusters[order][1:] != clusters[order][:-1], True])
    wanted = None if cluster_ids is None else {int(c) for c in cluster_ids}
    picks: dict[int, list[int]] = {}
    kept: dict[int, list[int]] = {}
    strata: dict[int, tuple] = {}
    coverage: list[StratumCoverage] = []
    for b in range(len(bounds) - 1):
        rows = order[bounds[b]:bounds[b + 1]]
        cid = int(clusters[rows[0]])
        if wanted is not None and cid not in wanted:
            continue
        if b % 256 == 0:
            if cancel is not None:
                cancel.check()
            progress(int(bounds[b]), n, "sampling seeds")
        rows = rows[eligible[rows]]
        if len(rows) == 0:
            continue
        keys = [(str(tiers[i]),
                 None if subclusters is None or subclusters[i] < 0 else int(subclusters[i]),
                 *(col[i] for col in attrs)) for i in rows]
        new, cov = sample_cluster(embeddings[rows], keys, params, cluster_id=cid,
                                  kept=approved[rows])
        picks[cid] = [int(rows[j]) for j in new]
        kept[cid] = [int(i) for i in rows[approved[rows]]]
        for j in [*new, *np.flatnonzero(approved[rows])]:
            strata[int(rows[j])] = keys[j]
        coverage += cov
    progress(n, n, "sampling seeds")
    return Proposal(picks, kept, strata, coverage, {"sampling": params.to_json()})


# ----------------------------------------------------------------------------- the project
@dataclass
class ProjectInputs:
    """Per-image columns read from a project for sampling (arrays indexed by image id)."""

    clusters: np.ndarray
    scores: np.ndarray
    score_column: str | None
    score_run_id: int | None
    curator_tiers: np.ndarray
    excluded: np.ndarray
    approved: np.ndarray
    seed_state: np.ndarray
    subclusters: np.ndarray | None
    cluster_run_id: int | None
    level: int | None
    attributes: dict[str, list[str]]


def latest_score_run(project) -> int | None:
    """The newest run that stored per-image scores (any kind but 'cluster'), or None."""
    row = project.conn.execute(
        "SELECT r.id FROM runs r WHERE r.kind != 'cluster' AND EXISTS "
        "(SELECT 1 FROM scores s WHERE s.run_id = r.id) ORDER BY r.id DESC LIMIT 1").fetchone()
    return None if row is None else int(row[0])


def quality_column(project, run_id: int | None) -> tuple[np.ndarray, str | None]:
    """Every image's quality score of a run: `quality`, or `sdd` where the run has no quality
    values at all (before the diagnostics issue fills it); NaN without a run."""
    n = project.image_count()
    out = np.full(n, np.nan)
    if run_id is None:
        return out, None
    has_q = project.conn.execute("SELECT COUNT(quality) FROM scores WHERE run_id = ?",
                                 (run_id,)).fetchone()[0]
    column = "quality" if has_q else "sdd"
    rows = project.conn.execute(
        f"SELECT image_id, {column} FROM scores WHERE run_id = ? AND {column} IS NOT NULL",
        (run_id,)).fetchall()
    if rows:
        a = np.array(rows, dtype=float)
        out[a[:, 0].astype(np.int64)] = a[:, 1]
    return out, column


def unfit_images(project, run_id: int) -> np.ndarray:
    """Ids of the images a run marks `identity_suspect` or near-blank (luminance std or `iq`
    below the `labels.eligibility` limits): never proposed as seeds."""
    from fiqa_gui.core.labels.eligibility import BLANK_IQ, BLANK_LUMINANCE_STD

    rows = project.conn.execute(
        "SELECT image_id FROM scores WHERE run_id = ? AND (flags LIKE '%identity_suspect%' "
        "OR iq < ? OR json_extract(extra_json, '$.luminance_variance') < ?)",
        (run_id, BLANK_IQ, BLANK_LUMINANCE_STD ** 2)).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def load_inputs(project, params: SamplingParams, *, run_id: int | None = None,
                cluster_run_id: int | None = None) -> ProjectInputs:
    """Read what sampling needs from the store: clusters, scores, annotations, strata columns."""
    conn = project.conn
    n = project.image_count()
    img = np.array(conn.execute("SELECT id, cluster_id, unreadable FROM images ORDER BY id")
                   .fetchall(), dtype=np.int64).reshape(-1, 3)
    clusters = img[:, 1]
    excluded = img[:, 2].astype(bool)
    if run_id is None:
        run_id = latest_score_run(project)
    scores, column = quality_column(project, run_id)
    tiers = np.full(n, None, dtype=object)
    seed_state = np.full(n, None, dtype=object)
    for image_id, tier, wrong, state in conn.execute(
            "SELECT image_id, tier, wrong_identity, seed_state FROM annotations"):
        tiers[image_id] = tier
        seed_state[image_id] = state
        if wrong:
            excluded[image_id] = True
    if params.exclude_rejected:
        excluded |= seed_state == "rejected"
    if run_id is not None:
        excluded[unfit_images(project, run_id)] = True
    approved = seed_state == "approved"
    level = params.subcluster_level
    subclusters = None
    if level is not None:
        if cluster_run_id is None:
            cluster_run_id = clustering.latest_clustering_run(project, within_clusters=True)
        if cluster_run_id is None and level != "auto":
            raise UserInputError("sampling by sub-cluster needs a clustering run",
                                 file=project.folder,
                                 fix="run 'fiqa-gui cluster PROJECT' first, or drop --level.")
        if cluster_run_id is not None:
            levels = clustering.load_levels(project, cluster_run_id)
            if level == "auto":
                level = levels[len(levels) // 2][0]
            subclusters = clustering.load_level(project, cluster_run_id, int(level))
        else:
            level = None
    attributes = _load_attributes(project, params.attributes, n)
    return ProjectInputs(clusters, scores, column, run_id, tiers, excluded, approved, seed_state,
                         subclusters, cluster_run_id if subclusters is not None else None,
                         None if level is None else int(level), attributes)


def _load_attributes(project, names, n: int) -> dict[str, list[str]]:
    known = dict(project.conn.execute("SELECT name, id FROM attribute_names"))
    out = {}
    for name in names:
        if name not in known:
            raise UserInputError(f"no attribute column {name!r}", file=project.folder,
                                 fix=f"use one of: {', '.join(sorted(known)) or '(none)'}.")
        values = [""] * n
        for image_id, value in project.conn.execute(
                "SELECT image_id, value FROM attributes WHERE attribute_id = ?", (known[name],)):
            values[image_id] = value
        out[name] = values
    return out


def propose_seeds(project, run_id: int | None = None, params: SamplingParams = SamplingParams(),
                  *, cluster_ids: list[int] | None = None, cluster_run_id: int | None = None,
                  progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None) -> Proposal:
    """Sample seeds from a project: scores of `run_id` (default: latest score run), strata from
    the clustering run `cluster_run_id` (default: latest within-cluster run). Writes nothing;
    apply it with `seeds.ProposeSeeds`."""
    emb = project.embeddings()
    if emb is None:
        raise UserInputError("seed sampling needs the embeddings (diversity is measured on them)",
                             file=project.folder, fix="create the project with --embeddings.")
    inp = load_inputs(project, params, run_id=run_id, cluster_run_id=cluster_run_id)
    proposal = stratified_sample(
        emb, inp.clusters, inp.scores, params, curator_tiers=inp.curator_tiers,
        excluded=inp.excluded, subclusters=inp.subclusters, attributes=inp.attributes,
        approved=inp.approved, cluster_ids=cluster_ids, progress=progress, cancel=cancel)
    proposal.params.update({"score_run_id": inp.score_run_id, "score_column": inp.score_column,
                            "cluster_run_id": inp.cluster_run_id, "level": inp.level})
    return proposal


def image_tiers(project, params: SamplingParams | None = None,
                run_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every image's tier and its source ('curator', 'score' or ''): the curator's tier where
    set, else from the score with `params` (default: those of the latest proposal)."""
    if params is None:
        params = latest_sampling_params(project)
    conn = project.conn
    clusters = np.array([r[0] for r in conn.execute("SELECT cluster_id FROM images ORDER BY id")],
                        dtype=np.int64)
    scores, _ = quality_column(project, run_id if run_id is not None
                               else latest_score_run(project))
    cur = np.full(len(clusters), None, dtype=object)
    for image_id, tier in conn.execute(
            "SELECT image_id, tier FROM annotations WHERE tier IS NOT NULL"):
        cur[image_id] = tier
    computed = assign_tiers(scores, clusters, mode=params.tier_mode, quantiles=params.quantiles,
                            thresholds=params.thresholds, curator=None,
                            eligible=cur != "unusable")
    has_cur = np.array([v is not None for v in cur], dtype=bool)
    tiers = np.where(has_cur, cur.astype(str), computed).astype(object)
    source = np.where(has_cur, "curator", np.where(computed == UNSCORED, "", "score"))
    tiers[~has_cur & (computed == UNSCORED)] = ""
    return tiers, source.astype(object)


def latest_sampling_params(project) -> SamplingParams:
    """The sampling parameters of the most recent proposal (defaults when there is none)."""
    best = None
    for (raw,) in project.conn.execute(
            "SELECT params_json FROM seed_sets WHERE params_json IS NOT NULL"):
        d = json.loads(raw)
        if best is None or d.get("proposed_at", "") > best.get("proposed_at", ""):
            best = d
    if best is None or "sampling" not in best:
        return SamplingParams()
    return SamplingParams.from_json(best["sampling"])
