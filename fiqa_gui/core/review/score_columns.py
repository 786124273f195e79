"""One run's score columns as the gallery uses them: which scores it can rank by, a
cluster ranked by one, computed tiers, and one image's values in display order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fiqa_gui.core.review.codes import (
    OPTIONAL_RANKABLE,
    RANKABLE,
    TIER_HIGH,
    TIER_LOW,
    TIER_MID,
    TIER_NONE,
)


def rankable(scores: dict | None) -> tuple[str, ...]:
    """`RANKABLE`, led by `quality` (the default ranking) when the run holds any value of it."""
    if not scores:
        return RANKABLE
    extra = tuple(name for name in OPTIONAL_RANKABLE
                  if name in scores and np.isfinite(np.asarray(scores[name], float)).any())
    return extra + RANKABLE


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
