"""The demo dataset plan: which clusters exist, what is planted in each, and every image's
generation parameters — the ground truth written to the manifest.

Scenarios (the manifest's ``scenario`` column, one per row):

- ``clean``                all images undegraded.
- ``consistent_degraded``  SPEC §5 defect 1: the whole cluster degraded by one kind at a similar
                           strength (one camera, one blur) — tight, but poor.
- ``one_good_many_poor``   SPEC §5 defect 2: one clean image and 6-10 poor images of one kind at a
                           similar strength; the clean row is the one with ``degradation=none``.
- ``intruder``             rows of a DIFFERENT identity (``true_identity`` names whose they are,
                           always another cluster's identity) inside a cluster whose other rows
                           are ``mixed``.
- ``near_duplicate``       every row of a cluster that contains near-identical copies of some of
                           its images; the copies and their source share ``near_dup_group``.
- ``singleton``            a one-image cluster.
- ``mixed``                a normal cluster: mostly clean, some images degraded at random.

Every random choice comes from a generator seeded by ``[seed, TAG, index]`` for the cluster or
image it concerns, never from global state, so the plan is a pure function of (seed, n_clusters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from fiqa_gui.core.demo.embedding_model import KINDS, true_quality

SCENARIOS: tuple[str, ...] = (
    "mixed",
    "clean",
    "consistent_degraded",
    "one_good_many_poor",
    "intruder",
    "near_duplicate",
    "singleton",
)
# clusters per scenario in the default 60-cluster demo
DEFAULT_MIX: dict[str, int] = {
    "mixed": 24,
    "clean": 10,
    "consistent_degraded": 8,
    "one_good_many_poor": 8,
    "intruder": 4,
    "near_duplicate": 3,
    "singleton": 3,
}

_TAG_PLAN, _TAG_CLUSTER, _TAG_VIEW = 101, 102, 103


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to render one image and compute its embedding."""

    index: int  # row in the manifest
    cluster: str
    ordinal: int  # 1-based number inside the cluster (the file name)
    identity: int  # index of the identity actually rendered
    true_identity: str
    scenario: str
    kind: str  # degradation kind, "none" when clean
    strength: float  # degradation strength in [0, 1]
    pose: str
    expression: str
    lighting: str
    yaw: float
    roll: float
    smile: float
    eye_open: float
    light_angle: float
    light_amp: float
    dim: float
    background: tuple[int, int, int]
    shirt: tuple[int, int, int]
    shift: tuple[float, float]
    scale: float
    near_dup_group: str = ""
    source: int = -1  # for a near-duplicate copy: the index of the image it copies

    @property
    def quality(self) -> float:
        return true_quality(self.kind, self.strength)

    @property
    def ext(self) -> str:
        """File type: low-quality JPEG for ``jpeg``, JPEG 95 for copies, PNG otherwise."""
        return "jpg" if self.kind == "jpeg" or self.source >= 0 else "png"

    @property
    def path(self) -> str:
        return f"images/{self.cluster}/{self.cluster}_{self.ordinal:04d}.{self.ext}"


def cluster_name(i: int, n_clusters: int = 0) -> str:
    """``id_0001`` style name of the 0-based cluster i (wider when there are more clusters)."""
    width = max(4, len(str(n_clusters)))
    return f"id_{i + 1:0{width}d}"


@dataclass(frozen=True)
class MakeUp:
    """What the data set is made of, for sweeps: the share of consistently degraded clusters
    (None = the default mix) and the degradation kinds of the planted degraded clusters
    (consistent and one-good-many-poor; None = all `KINDS`, blur first)."""

    degraded_share: float | None = None
    kinds: tuple[str, ...] | None = None
    one_good_many_poor: int | None = None  # a fixed number of these clusters, else the mix


def allocate(n_clusters: int, degraded_share: float | None = None,
             one_good_many_poor: int | None = None) -> dict[str, int]:
    """Clusters per scenario: the default mix scaled to n_clusters, at least one of each
    (when n_clusters >= 7), by largest remainder. With `degraded_share`, that share of the
    clusters (rounded) is ``consistent_degraded`` and the rest follows the default mix."""
    if n_clusters < 1:
        raise ValueError("n_clusters must be at least 1")
    if degraded_share is not None:
        if not 0.0 <= degraded_share < 1.0:
            raise ValueError("degraded_share must be in [0, 1)")
        n_deg = int(round(degraded_share * n_clusters))
        fixed = {"consistent_degraded": n_deg}
        if one_good_many_poor is not None:
            fixed["one_good_many_poor"] = min(one_good_many_poor, n_clusters - n_deg)
        rest = _largest_remainder(DEFAULT_MIX, n_clusters - sum(fixed.values()), exclude=fixed)
        rest.update(fixed)
        return {s: rest.get(s, 0) for s in SCENARIOS}
    total = sum(DEFAULT_MIX.values())
    if n_clusters < len(SCENARIOS):
        return {s: int(i < n_clusters) for i, s in enumerate(SCENARIOS)}
    spare = n_clusters - len(SCENARIOS)
    raw = {s: (DEFAULT_MIX[s] - 1) * spare / (total - len(SCENARIOS)) for s in SCENARIOS}
    counts = {s: 1 + math.floor(raw[s]) for s in SCENARIOS}
    left = n_clusters - sum(counts.values())
    by_rest = sorted(SCENARIOS, key=lambda s: (-(raw[s] - math.floor(raw[s])), SCENARIOS.index(s)))
    for s in by_rest[:left]:
        counts[s] += 1
    return counts


def _largest_remainder(mix: dict[str, int], n: int, exclude) -> dict[str, int]:
    """`n` clusters over the scenarios of `mix` not in `exclude`, proportional to the mix."""
    names = [s for s in SCENARIOS if s not in exclude]
    total = sum(mix[s] for s in names)
    raw = {s: mix[s] * n / total for s in names}
    counts = {s: math.floor(raw[s]) for s in names}
    by_rest = sorted(names, key=lambda s: (-(raw[s] - counts[s]), names.index(s)))
    for s in by_rest[: n - sum(counts.values())]:
        counts[s] += 1
    return counts


def _view(seed: int, index: int) -> dict:
    """Pose, expression, lighting and framing of image `index`."""
    rng = np.random.default_rng([seed, _TAG_VIEW, index])
    pose = str(rng.choice(["frontal", "left", "right"], p=[0.6, 0.2, 0.2]))
    yaw = {
        "frontal": rng.uniform(-12, 12),
        "left": rng.uniform(-40, -18),
        "right": rng.uniform(18, 40),
    }[pose]
    expression = str(rng.choice(["neutral", "smile"], p=[0.65, 0.35]))
    smile = rng.uniform(-0.1, 0.25) if expression == "neutral" else rng.uniform(0.55, 1.0)
    eye_open = rng.uniform(0.7, 1.0) if expression == "neutral" else rng.uniform(0.45, 0.85)
    lighting = str(rng.choice(["even", "side", "dim"], p=[0.5, 0.3, 0.2]))
    angle = rng.uniform(0, 2 * math.pi)
    amp = rng.uniform(0.25, 0.45) if lighting == "side" else 0.0
    dim = rng.uniform(0.6, 0.75) if lighting == "dim" else 1.0
    bg = tuple(int(c) for c in rng.integers(110, 235, 3))
    shirt = tuple(int(c) for c in rng.integers(20, 200, 3))
    return {
        "pose": pose,
        "expression": expression,
        "lighting": lighting,
        "yaw": float(yaw),
        "roll": float(np.clip(rng.normal(0, 5), -12, 12)),
        "smile": float(smile),
        "eye_open": float(eye_open),
        "light_angle": float(angle),
        "light_amp": float(amp),
        "dim": float(dim),
        "background": bg,
        "shirt": shirt,
        "shift": (float(rng.normal(0, 0.012)), float(rng.normal(0, 0.012))),
        "scale": float(rng.uniform(0.95, 1.05)),
    }


def _mixed_quality(rng: np.random.Generator, p_clean: float) -> tuple[str, float]:
    if rng.random() < p_clean:
        return "none", 0.0
    return str(KINDS[rng.integers(len(KINDS))]), float(0.15 + 0.8 * rng.beta(2, 2))


def _size(rng: np.random.Generator) -> int:
    return int(np.clip(round(math.exp(rng.normal(math.log(27), 0.6))), 5, 60))


def _kind_cycle(rng: np.random.Generator, kinds: tuple[str, ...] = KINDS) -> list[str]:
    """Blur first (the canonical case, when among `kinds`), then the others in a seeded order."""
    first = ["blur"] if "blur" in kinds else []
    rest = [k for k in kinds if k != "blur"]
    return [*first, *(rest[i] for i in rng.permutation(len(rest)))]


def _cluster_members(scenario: str, rng: np.random.Generator, kind: str) -> list[dict]:
    """(kind, strength, role) of each member before shuffling; role marks intruders and sources."""
    if scenario == "singleton":
        return [_member(*_mixed_quality(rng, 0.7))]
    if scenario == "clean":
        return [_member("none", 0.0) for _ in range(_size(rng))]
    if scenario in ("consistent_degraded", "one_good_many_poor"):
        lo, hi = (0.55, 0.8) if scenario == "consistent_degraded" else (0.6, 0.85)
        s0 = rng.uniform(lo, hi)
        n = _size(rng) if scenario == "consistent_degraded" else int(rng.integers(6, 11))
        members = [
            _member(kind, float(np.clip(s0 + rng.normal(0, 0.03), 0.05, 1.0))) for _ in range(n)
        ]
        if scenario == "one_good_many_poor":
            members.append(_member("none", 0.0))
        return members
    if scenario == "intruder":
        members = [_member(*_mixed_quality(rng, 0.75)) for _ in range(max(8, _size(rng)))]
        for _ in range(int(rng.integers(1, 3))):
            mild = rng.random() < 0.5
            members.append(
                _member(*(_mixed_quality(rng, 0.0) if mild else ("none", 0.0)), role="intruder")
            )
            if mild:  # an intruder is at most mildly degraded
                members[-1]["strength"] = min(members[-1]["strength"], 0.3)
        return members
    members = [_member(*_mixed_quality(rng, 0.65)) for _ in range(_size(rng))]
    if scenario == "near_duplicate":
        clean = [m for m in members if m["kind"] == "none"] or members
        n_groups = 1 if len(members) < 20 else 2
        for g, src in enumerate(clean[:n_groups]):
            src["role"] = f"source{g}"
            members += [
                _member(src["kind"], src["strength"], role=f"copy{g}")
                for _ in range(int(rng.integers(2, 5)))
            ]
    return members


def _member(kind: str, strength: float, role: str = "") -> dict:
    return {"kind": kind, "strength": strength if kind != "none" else 0.0, "role": role}


def plan_dataset(seed: int = 0, n_clusters: int = 60,
                 make_up: MakeUp | None = None) -> list[ImageSpec]:
    """The full list of images of the demo, in manifest order (`make_up` None: the default
    demo, unchanged)."""
    make_up = make_up or MakeUp()
    counts = allocate(n_clusters, make_up.degraded_share, make_up.one_good_many_poor)
    kinds = tuple(make_up.kinds or KINDS)
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"unknown degradation kinds {sorted(unknown)}; known: {KINDS}")
    labels = [s for s in SCENARIOS for _ in range(counts[s])]
    rng = np.random.default_rng([seed, _TAG_PLAN, n_clusters])
    labels = [labels[i] for i in rng.permutation(len(labels))]
    cycles = {s: _kind_cycle(rng, kinds) for s in ("consistent_degraded", "one_good_many_poor")}
    seen = dict.fromkeys(cycles, 0)
    hosts = [i for i, s in enumerate(labels) if s in ("clean", "mixed")] or list(range(n_clusters))
    specs: list[ImageSpec] = []
    for ci, scenario in enumerate(labels):
        crng = np.random.default_rng([seed, _TAG_CLUSTER, ci])
        kind = "none"
        if scenario in cycles:
            kind = cycles[scenario][seen[scenario] % len(kinds)]
            seen[scenario] += 1
        members = _cluster_members(scenario, crng, kind)
        members = [members[i] for i in crng.permutation(len(members))]
        others = [h for h in hosts if h != ci] or [ci]
        name = cluster_name(ci, n_clusters)
        first = len(specs)
        for ordinal, mem in enumerate(members, start=1):
            identity, row_scenario = ci, scenario
            if scenario == "intruder":
                row_scenario = "mixed"
                if mem["role"] == "intruder":
                    identity = int(others[crng.integers(len(others))])
                    row_scenario = "intruder"
            specs.append(
                ImageSpec(
                    index=len(specs),
                    cluster=name,
                    ordinal=ordinal,
                    identity=identity,
                    true_identity=cluster_name(identity, n_clusters),
                    scenario=row_scenario,
                    kind=mem["kind"],
                    strength=round(float(mem["strength"]), 4),
                    **_view(seed, len(specs)),
                )
            )
        _link_copies(specs, first, [m["role"] for m in members])
    return specs


def _link_copies(specs: list[ImageSpec], first: int, roles: list[str]) -> None:
    """Near-duplicate groups of the cluster starting at `first`: the source keeps its own view,
    each copy takes its source's view and records the source's index."""
    sources = {r[len("source") :]: first + i for i, r in enumerate(roles) if r.startswith("source")}
    for i, role in enumerate(roles):
        for prefix in ("source", "copy"):
            if not role.startswith(prefix):
                continue
            g = role[len(prefix) :]
            src = specs[sources[g]]
            group = f"{src.cluster}_dup{int(g) + 1}"
            extra = {}
            if prefix == "copy":
                extra = {k: getattr(src, k) for k in _VIEW_FIELDS}
                extra["source"] = src.index
            specs[first + i] = replace(specs[first + i], near_dup_group=group, **extra)


_VIEW_FIELDS = (
    "pose",
    "expression",
    "lighting",
    "yaw",
    "roll",
    "smile",
    "eye_open",
    "light_angle",
    "light_amp",
    "dim",
    "background",
    "shirt",
    "shift",
    "scale",
)
