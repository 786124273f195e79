"""The seed-set approval workflow as undoable, audited commands (see `curation.Command`).

Per cluster: propose (marks images 'proposed', replacing the cluster's earlier open proposal),
approve / reject images, swap a proposed image for the next farthest one of its stratum, add any
image by hand, approve the cluster's seed set. Image states live in `annotations.seed_state`, the
cluster's state ('open' / 'approved', when, with which sampling parameters) in `seed_sets`.
Changing any seed of an approved set reopens it. Each command is one transaction with one audit
row; `revert` restores exactly what `__init__` saw.

Approved seeds feed the anchored re-scoring: `store.seed_queries.approved_seeds(project)`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np

from fiqa_gui.core.curation.commands import Command
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.seedsets.sampling import (
    TIERS,
    Proposal,
    SamplingParams,
    assign_tiers,
    farthest_point_order,
    image_tiers,
    load_inputs,
)
from fiqa_gui.core.store.seed_queries import approved_seeds

PENDING_CHOICES = ("refuse", "approve", "reject")
NO_TIER = "none"  # dashboard key for seeds without a tier (no score, no curator tier)
_CHUNK = 900  # SQLite host-parameter limit headroom

SetRow = tuple  # (state, approved_at, params_json) of a seed_sets row; None = no row


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _chunks(values: list, size: int = _CHUNK):
    for s in range(0, len(values), size):
        yield values[s:s + size]


# ----------------------------------------------------------------------------- reading
def seed_states(project, image_ids: Iterable[int] | None = None) -> dict[int, str]:
    """image id -> seed state, for images that have one."""
    sql = "SELECT image_id, seed_state FROM annotations WHERE seed_state IS NOT NULL"
    if image_ids is None:
        return dict(project.conn.execute(sql))
    out = {}
    for chunk in _chunks(sorted({int(i) for i in image_ids})):
        out.update(project.conn.execute(f"{sql} AND image_id IN ({_marks(len(chunk))})", chunk))
    return out


def seed_set_rows(project, cluster_ids: Iterable[int] | None = None) -> dict[int, SetRow]:
    """cluster id -> (state, approved_at, params_json) of its seed_sets row."""
    sql = "SELECT cluster_id, state, approved_at, params_json FROM seed_sets"
    if cluster_ids is None:
        rows = project.conn.execute(sql).fetchall()
    else:
        rows = []
        for chunk in _chunks(sorted({int(c) for c in cluster_ids})):
            rows += project.conn.execute(f"{sql} WHERE cluster_id IN ({_marks(len(chunk))})",
                                         chunk).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _cluster_of(project, image_ids: list[int]) -> dict[int, int]:
    out = {}
    for chunk in _chunks(image_ids):
        out.update(project.conn.execute(
            f"SELECT id, cluster_id FROM images WHERE id IN ({_marks(len(chunk))})", chunk))
    missing = [i for i in image_ids if i not in out]
    if missing:
        raise UserInputError(f"no image with id {missing[0]} (the project has "
                             f"{project.image_count()} images)")
    return out


def _images_in(project, cluster_ids: Iterable[int], state: str | None = None) -> list[int]:
    out: list[int] = []
    for chunk in _chunks(sorted({int(c) for c in cluster_ids})):
        sql = f"SELECT i.id FROM images i WHERE i.cluster_id IN ({_marks(len(chunk))})"
        args = list(chunk)
        if state is not None:
            sql = (f"SELECT i.id FROM images i JOIN annotations a ON a.image_id = i.id "
                   f"WHERE i.cluster_id IN ({_marks(len(chunk))}) AND a.seed_state = ?")
            args.append(state)
        out += [r[0] for r in project.conn.execute(sql, args)]
    return sorted(out)


# ----------------------------------------------------------------------------- the command
class SeedCommand(Command):
    """Changes image seed states and seed_sets rows together; reverts to what it found."""

    action = "seeds"

    def __init__(self, project, image_states: dict[int, str | None],
                 set_rows: dict[int, SetRow | None], *, action: str, text: str,
                 info: dict | None = None) -> None:
        super().__init__()
        self.action = action
        self._text = text
        self.info = info or {}
        old = seed_states(project, image_states)
        self.images = {int(i): (old.get(int(i)), s) for i, s in image_states.items()
                       if old.get(int(i)) != s}
        old_sets = seed_set_rows(project, set_rows)
        self.sets = {int(c): (old_sets.get(int(c)), r) for c, r in set_rows.items()
                     if old_sets.get(int(c)) != r}

    @property
    def text(self) -> str:
        return self._text

    def image_ids(self) -> list[int]:
        return sorted(self.images)

    def _before(self):
        return {"seed_state": {str(i): a for i, (a, _) in self.images.items() if a is not None},
                "seed_sets": {str(c): a for c, (a, _) in self.sets.items()}}

    def _after(self):
        states: dict[str, list[int]] = {}
        for i, (_, b) in self.images.items():
            states.setdefault(str(b), []).append(i)
        sets = {str(c): (None if b is None else [b[0], b[1]]) for c, (_, b) in self.sets.items()}
        return {"seed_state": states, "seed_sets": sets, **self.info}

    def _apply(self, conn: sqlite3.Connection) -> None:
        _write_states(conn, [(i, b) for i, (_, b) in self.images.items()])
        _write_sets(conn, [(c, b) for c, (_, b) in self.sets.items()])

    def _revert(self, conn: sqlite3.Connection) -> None:
        _write_states(conn, [(i, a) for i, (a, _) in self.images.items()])
        _write_sets(conn, [(c, a) for c, (a, _) in self.sets.items()])


def _write_states(conn: sqlite3.Connection, pairs: list[tuple[int, str | None]]) -> None:
    conn.executemany(
        "INSERT INTO annotations(image_id, seed_state) VALUES (?, ?) "
        "ON CONFLICT(image_id) DO UPDATE SET seed_state = excluded.seed_state, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", pairs)


def _write_sets(conn: sqlite3.Connection, rows: list[tuple[int, SetRow | None]]) -> None:
    conn.executemany("DELETE FROM seed_sets WHERE cluster_id = ?",
                     [(c,) for c, r in rows if r is None])
    conn.executemany(
        "INSERT INTO seed_sets(cluster_id, state, approved_at, params_json) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(cluster_id) DO UPDATE SET state = excluded.state, "
        "approved_at = excluded.approved_at, params_json = excluded.params_json",
        [(c, *r) for c, r in rows if r is not None])


def _opened(rows: dict[int, SetRow], cluster_ids: Iterable[int]) -> dict[int, SetRow]:
    """Seed-set rows for clusters whose seeds change: an approved set goes back to 'open'."""
    out = {}
    for c in set(cluster_ids):
        old = rows.get(c)
        out[c] = ("open", None, old[2] if old else None)
    return out


# ----------------------------------------------------------------------------- commands
def ProposeSeeds(project, proposal: Proposal,
                 cluster_ids: Iterable[int] | None = None) -> SeedCommand:
    """Mark a proposal's picks 'proposed', clearing each cluster's earlier open proposal; the
    clusters' seed sets become 'open' and remember the sampling parameters and coverage."""
    clusters = sorted(set(proposal.cluster_ids) if cluster_ids is None
                      else {int(c) for c in cluster_ids} & set(proposal.cluster_ids))
    states: dict[int, str | None] = {i: None for i in _images_in(project, clusters, "proposed")}
    now = _now()
    coverage: dict[int, list] = {}
    for c in proposal.coverage:
        coverage.setdefault(c.cluster_id, []).append(
            [c.tier, c.subcluster, list(c.attributes), c.available, c.quota, c.picked])
    sets: dict[int, SetRow] = {}
    for cid in clusters:
        for i in proposal.picks.get(cid, []):
            states[i] = "proposed"
        params = dict(proposal.params, proposed_at=now, coverage=coverage.get(cid, []))
        sets[cid] = ("open", None, json.dumps(params, sort_keys=True))
    n = sum(len(proposal.picks.get(c, [])) for c in clusters)
    return SeedCommand(project, states, sets, action="propose_seeds",
                       text=f"Propose {n} seed(s) in {len(clusters)} cluster(s)",
                       info={"clusters": clusters})


def _set_images(project, image_ids, state: str | None, action: str, text: str) -> SeedCommand:
    ids = sorted({int(i) for i in image_ids})
    if not ids:
        raise UserInputError("no images selected", fix="select one or more images first.")
    clusters = set(_cluster_of(project, ids).values())
    rows = seed_set_rows(project, clusters)
    sets = _opened(rows, clusters) if state is not None else \
        {c: ("open", None, rows[c][2]) for c in clusters if c in rows}
    return SeedCommand(project, {i: state for i in ids}, sets, action=action,
                       text=text.format(n=len(ids)))


def approve_images(project, image_ids: Iterable[int]) -> SeedCommand:
    """Approve seeds (proposed or not)."""
    return _set_images(project, image_ids, "approved", "approve_seeds", "Approve {n} seed(s)")


def reject_images(project, image_ids: Iterable[int]) -> SeedCommand:
    """Reject proposed seeds: they are not proposed again by later proposals."""
    return _set_images(project, image_ids, "rejected", "reject_seeds", "Reject {n} seed(s)")


def add_seeds(project, image_ids: Iterable[int]) -> SeedCommand:
    """Add any images by hand as approved seeds of their clusters."""
    return _set_images(project, image_ids, "approved", "add_seeds", "Add {n} seed(s) by hand")


def clear_seeds(project, image_ids: Iterable[int]) -> SeedCommand:
    """Forget the seed state of images (neither proposed, approved nor rejected)."""
    return _set_images(project, image_ids, None, "clear_seeds", "Clear seed state of {n} image(s)")


def swap_seed(project, out_id: int, in_id: int | None = None) -> SeedCommand:
    """Replace a proposed (or approved) seed by another image of its cluster: the out image is
    rejected, the in image proposed. Without `in_id`, the first of `suggest_replacements`."""
    out_id = int(out_id)
    state = seed_states(project, [out_id]).get(out_id)
    if state not in ("proposed", "approved"):
        raise UserInputError(f"image {out_id} is not a seed (its seed state is {state or 'none'})",
                             fix="swap a proposed or approved seed.")
    if in_id is None:
        options = suggest_replacements(project, out_id, limit=1)
        if not options:
            raise UserInputError(f"no other eligible image in the cluster of image {out_id}",
                                 fix="approve or reject the seed instead.")
        in_id = options[0]
    in_id = int(in_id)
    where = _cluster_of(project, [out_id, in_id])
    if where[out_id] != where[in_id]:
        raise UserInputError(f"image {in_id} is in another cluster than image {out_id}",
                             fix="swap within one cluster.")
    if seed_states(project, [in_id]).get(in_id) in ("proposed", "approved"):
        raise UserInputError(f"image {in_id} is already a seed", fix="pick another image.")
    cid = where[out_id]
    rows = seed_set_rows(project, [cid])
    return SeedCommand(project, {out_id: "rejected", in_id: "proposed"}, _opened(rows, [cid]),
                       action="swap_seed", text=f"Swap seed {out_id} for {in_id}",
                       info={"out": out_id, "in": in_id})


def approve_seed_set(project, cluster_ids: Iterable[int], *,
                     pending: str = "refuse") -> SeedCommand:
    """Approve clusters' seed sets. Images still 'proposed' are refused (default), approved or
    rejected as `pending` says; a set with no approved image is refused."""
    if pending not in PENDING_CHOICES:
        raise UserInputError(f"unknown choice {pending!r} for pending proposals",
                             fix=f"use one of {', '.join(PENDING_CHOICES)}.")
    clusters = sorted({int(c) for c in cluster_ids})
    if not clusters:
        raise UserInputError("no clusters selected", fix="select one or more clusters first.")
    known = {r[0] for r in project.clusters()}
    missing = [c for c in clusters if c not in known]
    if missing:
        raise UserInputError(f"no cluster with id {missing[0]}")
    proposed = _images_in(project, clusters, "proposed")
    if proposed and pending == "refuse":
        raise UserInputError(
            f"{len(proposed)} proposed seed(s) are still undecided (e.g. image {proposed[0]})",
            fix="approve or reject them first, or approve the set with pending='approve' "
            "(--approve-pending).")
    states = {i: ("approved" if pending == "approve" else "rejected") for i in proposed}
    approved_now = set(_images_in(project, clusters, "approved")) | \
        {i for i, s in states.items() if s == "approved"}
    where = _cluster_of(project, sorted(approved_now)) if approved_now else {}
    with_seeds = set(where.values())
    empty = [c for c in clusters if c not in with_seeds]
    if empty:
        raise UserInputError(f"cluster {empty[0]} has no approved seed; an empty seed set "
                             "cannot be approved", fix="approve or add seeds first.")
    rows = seed_set_rows(project, clusters)
    now = _now()
    sets = {c: ("approved", now, rows[c][2] if c in rows else None) for c in clusters}
    return SeedCommand(project, states, sets, action="approve_seed_set",
                       text=f"Approve the seed set of {len(clusters)} cluster(s)",
                       info={"clusters": clusters, "pending": pending})


def reopen_seed_set(project, cluster_ids: Iterable[int]) -> SeedCommand:
    """Put approved seed sets back to 'open' (their seeds keep their states)."""
    clusters = sorted({int(c) for c in cluster_ids})
    rows = seed_set_rows(project, clusters)
    return SeedCommand(project, {}, {c: ("open", None, rows[c][2]) for c in clusters if c in rows},
                       action="reopen_seed_set",
                       text=f"Reopen the seed set of {len(clusters)} cluster(s)")


# ----------------------------------------------------------------------------- suggestions
def cluster_params(project, cluster_id: int) -> dict:
    """The stored proposal parameters of a cluster's seed set ({} when never proposed)."""
    row = seed_set_rows(project, [cluster_id]).get(int(cluster_id))
    return json.loads(row[2]) if row and row[2] else {}


def suggest_replacements(project, image_id: int, *, limit: int = 5) -> list[int]:
    """Images that could replace seed `image_id`: same stratum first (tier x sub-cluster x
    attributes, rebuilt with the cluster's stored sampling parameters), ordered by farthest-point
    from the cluster's other seeds; then the same tier; then any eligible image of the cluster."""
    image_id = int(image_id)
    cid = _cluster_of(project, [image_id])[image_id]
    stored = cluster_params(project, cid)
    params = SamplingParams()
    if "sampling" in stored:  # the strata exactly as proposed: the level that was resolved
        params = SamplingParams.from_json(dict(stored["sampling"],
                                               subcluster_level=stored.get("level")))
    inp = load_inputs(project, params, run_id=stored.get("score_run_id"),
                      cluster_run_id=stored.get("cluster_run_id"))
    members = np.flatnonzero(inp.clusters == cid)
    cur = inp.curator_tiers if params.use_curator_tiers else None
    excluded = inp.excluded | (inp.curator_tiers == "unusable")
    tiers = assign_tiers(inp.scores[members], inp.clusters[members], mode=params.tier_mode,
                         quantiles=params.quantiles, thresholds=params.thresholds,
                         curator=None if cur is None else cur[members],
                         eligible=~excluded[members])

    def key(j: int) -> tuple:
        i = members[j]
        sub = None if inp.subclusters is None or inp.subclusters[i] < 0 else \
            int(inp.subclusters[i])
        return (str(tiers[j]), sub, *(inp.attributes[a][i] for a in params.attributes))

    me = int(np.flatnonzero(members == image_id)[0])
    target = key(me)
    seeds = [j for j, i in enumerate(members)
             if inp.seed_state[i] in ("proposed", "approved") and i != image_id]
    free = [j for j, i in enumerate(members)
            if not excluded[i] and inp.seed_state[i] is None and i != image_id]
    emb = project.embeddings()
    anchors = np.asarray(emb[members[seeds]]) if seeds else None
    out: list[int] = []
    for pool in ([j for j in free if key(j) == target],
                 [j for j in free if tiers[j] == target[0] and key(j) != target],
                 [j for j in free if tiers[j] != target[0]]):
        if len(out) >= limit or not pool:
            continue
        order = farthest_point_order(np.asarray(emb[members[pool]]), limit - len(out),
                                     anchors=anchors, seed=params.seed)
        out += [int(members[pool[j]]) for j in order]
    return out[:limit]


# ----------------------------------------------------------------------------- dashboard
@dataclass
class Dashboard:
    """Progress over the dataset: seed sets, seed images, coverage of each tier."""

    clusters: int
    sets_approved: int
    sets_open: int
    images_proposed: int
    images_approved: int
    images_rejected: int
    approved_by_tier: dict = field(default_factory=dict)    # tier -> approved seed images
    sets_covering_tier: dict = field(default_factory=dict)  # tier -> approved sets with one

    @property
    def fraction_approved(self) -> float:
        return self.sets_approved / self.clusters if self.clusters else 0.0

    def as_dict(self) -> dict:
        return dict(asdict(self), fraction_approved=self.fraction_approved)


def progress_dashboard(project) -> Dashboard:
    """Clusters with approved seed sets out of all, seed images by state, per-tier coverage."""
    conn = project.conn
    clusters = conn.execute("SELECT COUNT(*) FROM clusters WHERE size > 0").fetchone()[0]
    sets = dict(conn.execute("SELECT state, COUNT(*) FROM seed_sets GROUP BY state").fetchall())
    counts = dict(conn.execute("SELECT seed_state, COUNT(*) FROM annotations "
                               "WHERE seed_state IS NOT NULL GROUP BY seed_state").fetchall())
    names = (*TIERS, "unusable", NO_TIER)
    by_tier = dict.fromkeys(names, 0)
    covering: dict[str, set[int]] = {t: set() for t in names}
    approved_sets = {r[0] for r in conn.execute(
        "SELECT cluster_id FROM seed_sets WHERE state = 'approved'")}
    approved = approved_seeds(project)
    # every image's tier (a whole-dataset read) only when some seed is approved to look up
    tiers = image_tiers(project)[0] if approved else None
    for cid, ids in approved.items():
        for i in ids:
            t = tiers[i] if tiers[i] in by_tier else NO_TIER
            by_tier[t] += 1
            if cid in approved_sets:
                covering[t].add(cid)
    return Dashboard(int(clusters), int(sets.get("approved", 0)), int(sets.get("open", 0)),
                     int(counts.get("proposed", 0)), int(counts.get("approved", 0)),
                     int(counts.get("rejected", 0)), by_tier,
                     {t: len(v) for t, v in covering.items()})
