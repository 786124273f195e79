"""The explanations of raised flags, built when someone reads them.

At MS1MV2 scale a run raises over a million image flags (score shifts, identity suspects, low
`iq`); one `FlagDetail` — a sentence and a dict of numbers — per flag was ~1 GiB, and the
stand-alone `score` command never reads them (only a project run stores them). `FlagDetails`
keeps the few cluster-level details as objects and, for the per-image kinds, the arrays the
sentences are made of; it reads like the list of `FlagDetail` it replaces (iterate, `len`,
index), each detail built on demand, in the order `diagnose` always listed them: near
duplicates, then cluster by cluster (singleton, consistency trap, score shifts — SDD's before
CR's, members in id order), then identity suspects, then low `iq`.

It holds references to the score arrays it was given; they are read, never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class FlagDetail:
    """One raised flag: what, where, why in words, and the numbers behind the words."""

    flag: str
    cluster: int
    image: int | None
    explanation: str
    numbers: dict = field(default_factory=dict)


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


@dataclass
class ScoreShifts:
    """Images SDD or CR ranks in the bottom half of a cluster they are clearly better than."""

    ids: np.ndarray        # image ids, sorted by (cluster, SDD before CR, id)
    by_cr: np.ndarray      # bool: CR ranked it (else SDD)
    ranks: np.ndarray      # its rank in the cluster by that score
    labels: np.ndarray
    poorness: np.ndarray
    strength: np.ndarray
    cluster_median: np.ndarray
    cluster_size: np.ndarray
    shift_gap: float

    def detail(self, j: int) -> FlagDetail:
        i = int(self.ids[j])
        c = int(self.labels[i])
        name = "CR" if self.by_cr[j] else "SDD"
        rank = int(self.ranks[j])
        poorness, strength = self.poorness, self.strength
        m = float(self.cluster_median[c])
        size = int(self.cluster_size[c])
        return FlagDetail(
            "score_shift", c, i,
            f"Clearly better than its cluster's typical image (poorness {poorness[i]:.2f} vs"
            f" the cluster's median {m:.2f}, on a scale where 0 is a typical good "
            f"image and 1 a typical poor one; model-free quality {strength[i]:.0%}), yet "
            f"{name} ranks it {rank} of {size}: a mutually similar majority "
            "sets the cluster's scores and this image is the odd one out.",
            {"poorness": float(poorness[i]), "cluster_median_poorness": m,
             "shift_gap": self.shift_gap, "strength": _f(strength[i]),
             "score": name, "rank": rank, "cluster_size": size})


@dataclass
class IdentitySuspects:
    """Images whose positives sit below their negatives, or nearer another cluster's centre."""

    ids: np.ndarray
    nn_idx: np.ndarray     # nearest other cluster, per entry of `ids`
    nn_sim: np.ndarray     # cosine to its centre
    labels: np.ndarray
    sdd_signed: np.ndarray
    ccs: np.ndarray
    nnccs: np.ndarray
    cluster_names: list[str] | None

    def _name(self, c: int) -> str:
        return f"'{self.cluster_names[c]}'" if self.cluster_names is not None else f"#{c}"

    def detail(self, j: int) -> FlagDetail:
        i = int(self.ids[j])
        sdd_signed, ccs, nnccs = self.sdd_signed, self.ccs, self.nnccs
        other, other_sim = int(self.nn_idx[j]), float(self.nn_sim[j])
        near = f"cluster {self._name(other)} (cosine {other_sim:.2f} to its centre)"
        reason = (f"its positives are lower than its negatives (signed SDD {sdd_signed[i]:.1f});"
                  f" the nearest other cluster is {near}" if sdd_signed[i] < 0 else
                  f"it is nearer to {near} than to its own cluster's centre "
                  f"({ccs[i]:.2f})")
        return FlagDetail("identity_suspect", int(self.labels[i]), i,
                          f"Possibly a different person: {reason}.",
                          {"sdd_signed": _f(sdd_signed[i]), "ccs": _f(ccs[i]),
                           "nnccs": _f(nnccs[i]), "nearest_cluster": other,
                           "nearest_cluster_name": self.cluster_names[other]
                           if self.cluster_names is not None else None,
                           "nearest_cluster_cosine": other_sim})


@dataclass
class LowIq:
    """Images whose pixel quality `iq` is below the threshold."""

    ids: np.ndarray
    labels: np.ndarray
    iq: np.ndarray
    threshold: float

    def detail(self, j: int) -> FlagDetail:
        i = int(self.ids[j])
        iq = self.iq
        return FlagDetail("low_iq", int(self.labels[i]), i,
                          f"Pixel quality {iq[i]:.0f}/100 is below "
                          f"{self.threshold:.0f} (blur, exposure or resolution).",
                          {"iq": float(iq[i])})


def _lazy(kind) -> Iterator[FlagDetail]:
    if kind is None:
        return iter(())
    detail: Callable[[int], FlagDetail] = kind.detail
    return (detail(j) for j in range(len(kind.ids)))


class FlagDetails(Sequence):
    """Every raised flag's `FlagDetail`, in `diagnose`'s order, each built when read."""

    def __init__(self, *, near_duplicates: list[FlagDetail] | None = None,
                 per_cluster: dict[int, list[FlagDetail]] | None = None,
                 score_shifts: ScoreShifts | None = None,
                 suspects: IdentitySuspects | None = None, low_iq: LowIq | None = None):
        self.near_duplicates = near_duplicates or []
        self.per_cluster = per_cluster or {}   # cluster → its singleton / trap details
        self.score_shifts = score_shifts
        self.suspects = suspects
        self.low_iq = low_iq
        self._list: list[FlagDetail] | None = None

    def _count(self, kind) -> int:
        return 0 if kind is None else len(kind.ids)

    def __len__(self) -> int:
        return (len(self.near_duplicates) + sum(len(v) for v in self.per_cluster.values())
                + self._count(self.score_shifts) + self._count(self.suspects)
                + self._count(self.low_iq))

    def _clusters(self) -> Iterator[FlagDetail]:
        """Cluster by cluster: its eager details, then its score shifts."""
        shifts = self.score_shifts
        if shifts is None or not len(shifts.ids):
            for c in sorted(self.per_cluster):
                yield from self.per_cluster[c]
            return
        shift_cluster = shifts.labels[shifts.ids]
        order = sorted(set(self.per_cluster) | set(np.unique(shift_cluster).tolist()))
        starts = np.searchsorted(shift_cluster, order, side="left").tolist()
        ends = np.searchsorted(shift_cluster, order, side="right").tolist()
        for c, a, b in zip(order, starts, ends, strict=True):
            yield from self.per_cluster.get(c, ())
            for j in range(a, b):
                yield shifts.detail(j)

    def __iter__(self) -> Iterator[FlagDetail]:
        if self._list is not None:
            yield from self._list
            return
        yield from self.near_duplicates
        yield from self._clusters()
        yield from _lazy(self.suspects)
        yield from _lazy(self.low_iq)

    def __getitem__(self, i):
        if self._list is None:
            self._list = list(iter(self))
        return self._list[i]
