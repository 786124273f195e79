"""Score a project end to end: SDD + CR + pixel cues, then flags and the anchored `quality`.

`score_project` stores a run of kind 'score'; `rescore_with_seeds` recomputes `quality` against
the curator-approved seed images of a base run and stores a run of kind 'rescore', together with
what changed (rank moves, flags resolved). Both are what the CLI and the GUI call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fiqa_gui.core.labels.anchored import AnchoredResult, anchored_quality, propose_anchors
from fiqa_gui.core.labels.diagnostics import Diagnostics, FlagParams, diagnose
from fiqa_gui.core.labels.eligibility import ineligible, near_blank
from fiqa_gui.core.labels.grouped import Groups
from fiqa_gui.core.labels.pixel_degradation import pixel_degradation
from fiqa_gui.core.labels.quality_cues import low_information_similarity, model_free_quality
from fiqa_gui.core.labels.quality_scale import (
    MIN_REFERENCE,
    quality_scale,
    strength_from_poorness,
)
from fiqa_gui.core.labels.ranking import cluster_members, descending_ranks
from fiqa_gui.core.labels.self_calibration import calibrate_iq
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.scoring.flag_lists import FlagLists
from fiqa_gui.core.store import Project

PER_IMAGE_EXTRAS = ("lowinfo", "strength", "certainty", "anchor_similarity", "is_anchor",
                    "near_dup_group", "crowding", "poorness")


@dataclass
class ProjectLabels:
    """Contiguous cluster indices for scoring, and the database cluster ids they stand for."""

    labels: np.ndarray        # 0..C-1 per image
    cluster_ids: np.ndarray   # database id of each index
    names: list[str]


def project_labels(project: Project) -> ProjectLabels:
    """Map the current (possibly curated) clusters to 0..C-1 in cluster-name order."""
    db_ids = project.image_cluster_ids()
    names_by_id = project.cluster_names_by_id()
    present = np.unique(db_ids)
    present = np.array(sorted(present, key=lambda c: names_by_id[int(c)]), dtype=np.int64)
    index = np.full(int(present.max()) + 1, -1, dtype=np.int64)
    index[present] = np.arange(len(present))
    return ProjectLabels(labels=index[db_ids], cluster_ids=present,
                         names=[names_by_id[int(c)] for c in present])


def finish_scores(embeddings: np.ndarray, labels: np.ndarray, columns: dict[str, np.ndarray],
                  *, unreadable: np.ndarray | None = None,
                  approved: dict[int, list[int]] | None = None,
                  flag_params: FlagParams | None = None,
                  lowinfo: np.ndarray | None = None,
                  iq_poor: float | None = None,
                  iq_good: float | None = None,
                  trusted: np.ndarray | None = None,
                  cluster_names: list[str] | None = None,
                  nn_cluster: np.ndarray | None = None,
                  luminance_variance: np.ndarray | None = None,
                  calibration=None,
                  cues: dict[str, np.ndarray] | None = None) -> tuple[Diagnostics,
                                                                         AnchoredResult,
                                                                         np.ndarray]:
    """Flags + anchored quality from SDD/CR/iq columns; returns (diagnostics, anchored, lowinfo).

    `approved` maps a cluster index to its approved seed image ids (the anchors it replaces).
    `iq_poor`/`iq_good` are the self-calibrated pixel levels (`self_calibration.calibrate_iq`) and
    `trusted` the curator's trusted image ids; they fix the flags' poorness scale
    (`quality_scale`). `calibration` (the `IqCalibration` or its stored dict) and the raw image
    `cues` give the pixel degradation the trap rule reads (`pixel_degradation`).
    Proposed anchors skip identity suspects and near-blank images (`eligibility`).
    """
    if lowinfo is None:
        lowinfo = low_information_similarity(embeddings)
    iq = columns.get("iq")
    degradation = pixel_degradation(cues, calibration, len(labels))
    scale = quality_scale(embeddings, labels, iq, iq_poor=iq_poor, iq_good=iq_good,
                          trusted=trusted, degradation=degradation)
    # identity strength on the absolute poorness scale (the percentile form where it is NaN)
    strength = strength_from_poorness(scale.poorness, model_free_quality(lowinfo, iq))
    sums = Groups(labels).unit_sums(embeddings)  # one pass, shared by cohesion and anchors
    diag = diagnose(embeddings, labels, strength=strength, sdd=columns["sdd"],
                    sdd_signed=columns["sdd_signed"], cr=columns["cr"], ccs=columns["ccs"],
                    nnccs=columns["nnccs"], iq=iq, unreadable=unreadable,
                    params=flag_params or FlagParams(), scale=scale,
                    cluster_names=cluster_names, nn_cluster=nn_cluster, sums=sums)
    skip = ineligible(diag.image_flags, near_blank(len(labels), iq, luminance_variance))
    anchors = propose_anchors(labels, strength, skip)
    anchored = anchored_quality(embeddings, labels, strength, columns["nnccs"], anchors,
                                approved=approved, sums=sums)
    return diag, anchored, lowinfo


def _extras(diag: Diagnostics, anchored: AnchoredResult, lowinfo: np.ndarray) -> dict:
    is_anchor = np.zeros(len(lowinfo))
    for ids in anchored.anchors.values():
        is_anchor[ids] = 1.0
    return {"lowinfo": lowinfo, "strength": anchored.strength, "certainty": anchored.certainty,
            "anchor_similarity": anchored.anchor_similarity, "is_anchor": is_anchor,
            "near_dup_group": diag.near_dup_group.astype(float),
            "crowding": diag.scale.crowding, "poorness": diag.scale.poorness}


def _details(diag: Diagnostics, pl: ProjectLabels) -> list[tuple]:
    return [(d.flag, int(pl.cluster_ids[d.cluster]), d.image, d.explanation, d.numbers)
            for d in diag.details]


def score_project(project: Project, params=None, *, progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None, backend=None) -> int:
    """Run the full scoring on a project and store it as a new run; return the run id.
    `backend`: where SDD and CR run (`scoring.distributed.RayBackend`; None: this process)."""
    from fiqa_gui.core.scoring.pipeline import ScoringParams, score_dataset

    params = params or ScoringParams()
    t0 = time.perf_counter()
    ds = project.dataset()
    emb = project.embeddings()
    if emb is None:
        from fiqa_gui.core.errors import UserInputError

        raise UserInputError("the project has no embeddings", file=project.folder,
                             fix="create it again with --embeddings NPY.")
    pl = project_labels(project)
    paths = [str(p) for p in ds.absolute_paths()] if params.image_cues else None
    result = score_dataset(emb, pl.labels, pl.names, paths, params, progress=progress,
                           cancel=cancel, backend=backend)
    columns = {c: getattr(result, c) for c in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
    progress(0, 1, "diagnostics")
    approved = approved_anchors(project, pl)
    cal = calibrate_iq(paths, columns["iq"], seed=params.seed) if paths is not None else None
    trusted = trusted_images(project)
    flag_scale = {"iq_poor": cal.iq_poor if cal else None,
                  "iq_good": cal.iq_good if cal else None,
                  "calibration": cal.as_dict() if cal else None,
                  "trusted": trusted.tolist() if len(trusted) >= MIN_REFERENCE else []}
    diag, anchored, lowinfo = finish_scores(
        emb, pl.labels, columns, unreadable=ds.unreadable, approved=approved,
        iq_poor=flag_scale["iq_poor"], iq_good=flag_scale["iq_good"],
        trusted=np.array(flag_scale["trusted"], dtype=np.int64), cluster_names=pl.names,
        nn_cluster=getattr(result, "nn_cluster", None) if len(result.nn_cluster) else None,
        luminance_variance=(getattr(result, "cues", {}) or {}).get("luminance_variance"),
        calibration=cal, cues=getattr(result, "cues", None))
    flag_scale["method"] = diag.scale.method
    progress(1, 1, "diagnostics")
    columns["quality"] = anchored.quality
    extra = dict(getattr(result, "cues", {}) or {})
    extra.update(_extras(diag, anchored, lowinfo))
    flags = merge_flags(result.flags, diag.row_flags(pl.labels))
    run_params = dict(result.params_dict())
    run_params["anchors"] = {"approved_clusters": len(approved or {})}
    run_params["flag_scale"] = flag_scale
    return project.add_run("score", run_params, columns, flags, device=result.device,
                           seed=params.seed, duration_s=time.perf_counter() - t0, extra=extra,
                           flag_details=_details(diag, pl))


def trusted_images(project: Project) -> np.ndarray:
    """Ids of the images the curator trusts: approved seeds and images tiered high — the good
    references of the flags' poorness scale once there are `MIN_REFERENCE` of them."""
    rows = project.conn.execute(
        "SELECT image_id FROM annotations WHERE seed_state = 'approved' OR tier = 'high' "
        "ORDER BY image_id").fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def approved_anchors(project: Project, pl: ProjectLabels | None = None) -> dict[int, list[int]]:
    """`seed_queries.approved_seeds`, keyed by cluster index instead of database cluster id."""
    from fiqa_gui.core.store.seed_queries import approved_seeds

    pl = pl or project_labels(project)
    index = {int(c): k for k, c in enumerate(pl.cluster_ids)}
    return {index[int(c)]: sorted(ids) for c, ids in approved_seeds(project).items()}


@dataclass
class RescoreSummary:
    """What re-scoring against approved seeds changed, per cluster that has approved seeds.

    A score shift counts as *resolved* only where it was raised before and is gone after: the
    image was flagged `score_shift` and the old `quality` still ranked it in the lower half of its
    cluster, and the new `quality` ranks it in the upper half. An image the old `quality` already
    ranked near the top had nothing left to resolve and is not counted (`already_fine`).
    """

    run_id: int
    base_run_id: int
    clusters: list[dict]        # name, seeds, spearman, rank-move distribution, top movers
    resolved_score_shift: list[int]   # raised before (in quality) and gone after
    still_shifted: list[int] = field(default_factory=list)   # raised before and after
    already_fine: list[int] = field(default_factory=list)    # flagged, quality already upper half
    flags_gone: dict[str, list[int]] = field(default_factory=dict)   # per flag: before, not after
    flags_new: dict[str, list[int]] = field(default_factory=dict)    # per flag: after, not before


def rescore_with_seeds(project: Project, base_run_id: int | None = None, *,
                       progress: ProgressCallback = no_progress) -> RescoreSummary:
    """Recompute `quality` with approved seeds as anchors; store and describe the new run."""
    from scipy.stats import spearmanr

    from fiqa_gui.core.errors import UserInputError

    t0 = time.perf_counter()
    base = project.runs("score")[-1] if base_run_id is None else next(
        (r for r in project.runs() if r.id == base_run_id), None)
    if base is None:
        raise UserInputError("there is no scoring run to re-score", file=project.folder,
                             fix="score the project first (fiqa-gui score PROJECT).")
    old = project.scores(base.id)
    pl = project_labels(project)
    approved = approved_anchors(project, pl)
    if not approved:
        raise UserInputError("no approved seed images yet", file=project.folder,
                             fix="approve seed images (seed panel, or 'fiqa-gui sample') first.")
    emb = project.embeddings()
    ds = project.dataset()
    progress(0, 1, "re-scoring")
    columns = {c: np.asarray(old[c], dtype=float) for c in
               ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
    lowinfo = np.asarray(old["lowinfo"]) if "lowinfo" in old else None
    # the base run's flag scale, so re-scoring changes `quality` only where seeds were approved
    scale = base.params.get("flag_scale") or {}
    diag, anchored, lowinfo = finish_scores(
        emb, pl.labels, columns, unreadable=ds.unreadable, approved=approved, lowinfo=lowinfo,
        iq_poor=scale.get("iq_poor"), iq_good=scale.get("iq_good"),
        trusted=np.array(scale.get("trusted") or [], dtype=np.int64), cluster_names=pl.names,
        luminance_variance=np.asarray(old["luminance_variance"], dtype=float)
        if "luminance_variance" in old else None,
        calibration=scale.get("calibration"), cues=old)
    columns["quality"] = anchored.quality
    extra = {k: np.asarray(old[k], dtype=float) for k in old
             if k not in columns and k not in ("flags", "quality") and k not in PER_IMAGE_EXTRAS}
    extra.update(_extras(diag, anchored, lowinfo))
    base_flags = [[f for f in fl if f in ("unreadable",)] for fl in old["flags"]]
    flags = merge_flags(base_flags, diag.row_flags(pl.labels))
    params = dict(base.params)
    params["base_run"] = base.id
    params["anchors"] = {"approved_clusters": len(approved)}
    run_id = project.add_run("rescore", params, columns, flags, device=base.device,
                             seed=base.seed, duration_s=time.perf_counter() - t0, extra=extra,
                             flag_details=_details(diag, pl))
    progress(1, 1, "re-scoring")
    clusters = []
    old_q = np.asarray(old["quality"], dtype=float)
    for c, seeds in sorted(approved.items()):
        members = np.flatnonzero(pl.labels == c)
        ok = np.isfinite(old_q[members]) & np.isfinite(anchored.quality[members])
        rho = float(spearmanr(old_q[members][ok], anchored.quality[members][ok])[0]) \
            if ok.sum() >= 3 else float("nan")
        moves = rank_moves(old_q[members], anchored.quality[members])
        top = sorted(zip(members.tolist(), moves.tolist(), strict=True),
                     key=lambda t: -abs(t[1]))[:5]
        clusters.append({"cluster": pl.names[c], "seeds": seeds, "spearman": rho,
                         "size": int(len(members)), "moves": move_distribution(moves),
                         "top_moves": [{"image_id": i, "rank_change": m} for i, m in top]})
    resolved, still, fine = [], [], []
    for members in cluster_members(pl.labels):
        half = len(members) / 2
        ranks_old = descending_ranks(old_q[members])
        ranks_new = descending_ranks(anchored.quality[members])
        for j, i in enumerate(members):
            if "score_shift" not in old["flags"][i]:
                continue
            if ranks_old[j] <= half:
                fine.append(int(i))
            elif ranks_new[j] <= half:
                resolved.append(int(i))
            else:
                still.append(int(i))
    gone, new = flag_changes(old["flags"], flags)
    return RescoreSummary(run_id=run_id, base_run_id=base.id, clusters=clusters,
                          resolved_score_shift=resolved, still_shifted=still, already_fine=fine,
                          flags_gone=gone, flags_new=new)


def move_distribution(moves: np.ndarray) -> dict:
    """How one cluster's images moved: counts up / down / unchanged, and the quartiles and
    extremes of the rank change (positive = up), so a report shows more than one median."""
    moves = np.asarray(moves, dtype=float)
    if not len(moves):
        return {"up": 0, "down": 0, "same": 0}
    q = np.quantile(moves, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {"up": int((moves > 0).sum()), "down": int((moves < 0).sum()),
            "same": int((moves == 0).sum()), "min": int(q[0]), "q1": float(q[1]),
            "median": float(q[2]), "q3": float(q[3]), "max": int(q[4]),
            "median_abs": float(np.median(np.abs(moves)))}


def flag_changes(before: list[list[str]], after: list[list[str]]
                 ) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per flag name, the images that had it before and not after, and the reverse."""
    gone: dict[str, list[int]] = {}
    new: dict[str, list[int]] = {}
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        for f in set(a) - set(b):
            gone.setdefault(f, []).append(i)
        for f in set(b) - set(a):
            new.setdefault(f, []).append(i)
    return gone, new


def rank_moves(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per image, how many places it moved up (positive) from `before` to `after` ranking."""
    return descending_ranks(before) - descending_ranks(after)


def merge_flags(a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]
                ) -> Sequence[Sequence[str]]:
    """Row by row, `a`'s flags then `b`'s new ones (once each). Two `FlagLists` merge into one
    bit code per row; otherwise a row with flags on one side only keeps that side's list
    (read-only use: no copy per row)."""
    if isinstance(a, FlagLists) and isinstance(b, FlagLists):
        return a.merge(b)
    return [list(dict.fromkeys(x + y)) if x and y else (x or y)
            for x, y in zip(a, b, strict=True)]
