"""How the inspector names and shows a cue: a few cues are not measurements but categories
(`near_dup_group`: a group id, -1 for none; `is_anchor`: 0/1), which read wrongly as numbers
("near dup group -1.000")."""

from __future__ import annotations

import math

CUE_TITLES = {
    "near_dup_group": "near-duplicate group",
    "is_anchor": "anchor (trusted image)",
}


def cue_title(name: str) -> str:
    """The label of a cue column (`near_dup_group` → `near-duplicate group`)."""
    return CUE_TITLES.get(name, name.replace("_", " "))


def is_categorical(name: str) -> bool:
    return name.startswith("is_") or name.endswith("_group")


def cue_text(name: str, value: float) -> str | None:
    """Text of a categorical cue's value ('yes', 'no', 'none', 'group 3'), or None when the
    cue is a measurement (the caller formats the number)."""
    if not is_categorical(name):
        return None
    if value is None or not math.isfinite(value):
        return "–"
    if name.startswith("is_"):
        return "yes" if value >= 0.5 else "no"
    return "none" if value < 0 else f"#{int(value)}"
