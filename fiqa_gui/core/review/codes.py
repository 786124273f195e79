"""The vocabulary the window draws with: score titles, tier and seed codes, which flags
belong to a whole cluster, and which runs hold one score row per image."""

from __future__ import annotations

RANKABLE: tuple[str, ...] = ("sdd", "cr", "iq")
"""Scores a gallery can be ranked by; `rankable(scores)` adds the ones a run really has."""

OPTIONAL_RANKABLE: tuple[str, ...] = ("quality", "learned")
"""Rankable where the run holds them: `quality` (every score run), `learned` (learn runs)."""

SCORE_TITLES: dict[str, str] = {
    "sdd": "SDD",
    "sdd_signed": "SDD (signed)",
    "cr": "CR",
    "ccs": "CCS",
    "nnccs": "NNCCS",
    "iq": "Image quality",
    "quality": "Quality",
    "learned": "Learned",
}

CLUSTER_FLAGS = frozenset({"consistency_trap", "cluster_score_shift"})
"""Flags that describe a whole cluster; the store repeats them on each of its images."""

TIER_UNUSABLE, TIER_NONE, TIER_LOW, TIER_MID, TIER_HIGH = -2, -1, 0, 1, 2
TIER_NAMES: dict[int, str] = {TIER_NONE: "none", TIER_LOW: "low", TIER_MID: "mid",
                              TIER_HIGH: "high", TIER_UNUSABLE: "unusable"}
TIER_CODES: dict[str, int] = {"high": TIER_HIGH, "mid": TIER_MID, "low": TIER_LOW,
                              "unusable": TIER_UNUSABLE}
"""The curator's tiers (`curation.TIERS`) as the codes the gallery draws; computed tiers are
only ever high / mid / low (or none)."""

SEED_NONE, SEED_PROPOSED, SEED_APPROVED, SEED_REJECTED = 0, 1, 2, 3
SEED_CODES: dict[str, int] = {"proposed": SEED_PROPOSED, "approved": SEED_APPROVED,
                              "rejected": SEED_REJECTED}
SEED_NAMES: dict[int, str] = {v: k for k, v in SEED_CODES.items()}

SCORE_RUN_KINDS: tuple[str, ...] = ("score", "rescore", "learn")
"""Run kinds that hold one score row per image (what the window can show)."""


def score_title(name: str) -> str:
    """The label a curator reads for a score column (`sdd` → `SDD`)."""
    return SCORE_TITLES.get(name, name.replace("_", " "))
