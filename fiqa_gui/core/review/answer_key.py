"""The demo's answer key: ground-truth columns that must not be shown as if they were data.

The demo manifest carries what the generator planted — `scenario`, `true_identity`,
`true_quality`, `degradation`, `near_dup_group` — so its figures can be checked. A curator reading
"true_quality: 34.0" next to an image would take it for a measurement. Where every column of the
demo's signature (`scenario` and `true_quality`) is present, those columns are the answer key:
`shown_attributes` labels them as such and lists them after the real attributes, and
`data_attribute_names` leaves them out of lists a curator chooses from (stratify by, filter by).
Any other manifest's columns are its data, whatever their names, and are shown unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

ANSWER_KEY_COLUMNS: tuple[str, ...] = ("scenario", "true_identity", "true_quality",
                                       "degradation", "near_dup_group")
DEMO_SIGNATURE: tuple[str, ...] = ("scenario", "true_quality")
ANSWER_KEY_LABEL = "demo answer key"


def has_answer_key(names: Iterable[str]) -> bool:
    """True when the attribute columns include the demo's signature columns."""
    names = set(names)
    return all(n in names for n in DEMO_SIGNATURE)


def is_answer_key(name: str, names: Iterable[str]) -> bool:
    """Whether column `name` is part of the demo's answer key among the columns `names`."""
    return name in ANSWER_KEY_COLUMNS and has_answer_key(names)


def attribute_label(name: str, names: Iterable[str]) -> str:
    """How to title column `name`: marked as the demo's answer key where it is one."""
    return f"{ANSWER_KEY_LABEL}: {name}" if is_answer_key(name, names) else name


def data_attribute_names(names: Sequence[str]) -> list[str]:
    """The attribute columns that are data (the answer key left out), in their order."""
    return [n for n in names if not is_answer_key(n, names)]


def shown_attributes(attributes: Mapping[str, Sequence[str]], index: int,
                     *, include_answer_key: bool = True) -> list[tuple[str, str, bool]]:
    """One image's non-empty attributes as (label, value, is_answer_key): the data attributes
    first, then (unless left out) the answer key, labelled as the demo's answer key."""
    names = list(attributes)
    data = [(n, str(attributes[n][index]), False) for n in data_attribute_names(names)]
    key = [(attribute_label(n, names), str(attributes[n][index]), True) for n in names
           if is_answer_key(n, names)] if include_answer_key else []
    return [row for row in data + key if row[1] != ""]
