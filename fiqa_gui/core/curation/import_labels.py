"""Labels made elsewhere (a spreadsheet, another tool) brought into a project as one undoable,
audited command.

The CSV has a header row with `path` and any of `tier` (high|mid|low|unusable), `score` (0–100,
the corrected score), `seed` (approved|rejected) and `wrong_identity` (true|false, also yes/no,
1/0). An empty cell leaves that field as it is. Paths are matched as `init` matches a manifest's:
relative to the CSV's folder, or absolute; a path spelled exactly as the project stores it (the
`path` column of an export) matches too. Every bad line is reported at once, as an editor numbers
it (header = line 1), and nothing is imported until the whole file is clean.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fiqa_gui.core.curation.commands import (
    TIERS,
    Command,
    _write_field,
    read_annotation_field,
)
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.manifest import csv_records, decode_csv_text

LABEL_COLUMNS = {"tier": "tier", "score": "corrected_score", "seed": "seed_state",
                 "wrong_identity": "wrong_identity"}
"""CSV column → annotation field."""
IMPORTED_SEED_STATES = ("approved", "rejected")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}
_MAX_SHOWN = 5

@dataclass
class LabelTable:
    """The parsed CSV: per annotation field, (image id, value) in file order."""

    path: Path
    changes: dict[str, list[tuple[int, object]]] = field(default_factory=dict)
    rows: int = 0

    def image_ids(self) -> list[int]:
        return sorted({i for pairs in self.changes.values() for i, _ in pairs})

def _key(p: str | Path) -> str:
    return os.path.normcase(os.path.normpath(str(p)))

def _parse_value(column: str, cell: str):
    """The annotation value of one cell, or raise ValueError with what is wrong."""
    text = cell.strip()
    if column == "tier":
        if text.lower() not in TIERS:
            raise ValueError(f"tier {text!r} is not one of {'|'.join(TIERS)}")
        return text.lower()
    if column == "score":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"score {text!r} is not a number") from None
        if not 0 <= value <= 100:
            raise ValueError(f"score {text} is outside 0–100")
        return value
    if column == "seed":
        if text.lower() not in IMPORTED_SEED_STATES:
            raise ValueError(f"seed {text!r} is not one of {'|'.join(IMPORTED_SEED_STATES)}")
        return text.lower()
    if text.lower() in _TRUE:
        return 1
    if text.lower() in _FALSE:
        return 0
    raise ValueError(f"wrong_identity {text!r} is not true or false")

def read_label_table(project, csv_path: str | Path) -> LabelTable:
    """Parse and check a labels CSV against the project; raise one UserInputError naming every
    bad line (unknown paths, bad values, repeated images)."""
    path = Path(csv_path)
    if not path.is_file():
        raise UserInputError("the labels file does not exist", file=path,
                             fix="check the path of the CSV.")
    records = csv_records(decode_csv_text(path, kind="labels file"), path)
    if not records:
        raise UserInputError("the labels file is empty", file=path,
                             fix="add a header row, e.g. path,tier,score,seed,wrong_identity.")
    header_line, header = records[0]
    names = [h.strip().lower() for h in header]
    if "path" not in names:
        raise UserInputError(f"the required column 'path' is missing (header found: "
                             f"{', '.join(header)})", file=path, row=header_line,
                             row_kind="line", fix="name the image column 'path'.")
    columns = [c for c in names if c in LABEL_COLUMNS]
    if not columns:
        raise UserInputError("no label column (tier, score, seed, wrong_identity) in the header",
                             file=path, row=header_line, row_kind="line",
                             fix="add at least one of the columns tier, score, seed, "
                                 "wrong_identity.")
    ds = project.dataset()
    by_abs = {_key(p): i for i, p in enumerate(ds.absolute_paths())}
    by_stored = {_key(p): i for i, p in enumerate(ds.paths)}
    base = path.parent.absolute()
    where = {c: names.index(c) for c in ("path", *columns)}
    table = LabelTable(path=path, changes={LABEL_COLUMNS[c]: [] for c in columns})
    problems: list[tuple[int, str]] = []
    seen: dict[int, int] = {}
    for line, row in records[1:]:
        if len(row) != len(header):
            problems.append((line, f"{len(row)} fields where the header has {len(header)}"))
            continue
        raw_path = row[where["path"]]
        if not raw_path.strip():
            problems.append((line, "empty path"))
            continue
        p = Path(raw_path)
        image = by_abs.get(_key(p if p.is_absolute() else base / p))
        if image is None:
            image = by_stored.get(_key(raw_path))
        if image is None:
            problems.append((line, f"no image of the project has the path {raw_path!r}"))
            continue
        if image in seen:
            problems.append((line, f"{raw_path!r} is already labelled on line {seen[image]}"))
            continue
        seen[image] = line
        for c in columns:
            cell = row[where[c]]
            if not cell.strip():
                continue
            try:
                table.changes[LABEL_COLUMNS[c]].append((image, _parse_value(c, cell)))
            except ValueError as err:
                problems.append((line, str(err)))
        table.rows += 1
    if problems:
        shown = "; ".join(f"line {n}: {what}" for n, what in problems[:_MAX_SHOWN])
        more = f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""
        raise UserInputError(f"{len(problems)} bad line(s), nothing imported — {shown}{more}",
                             file=path, fix="correct those lines (paths relative to the CSV's "
                             "folder or absolute; tier high|mid|low|unusable, score 0–100, seed "
                             "approved|rejected, wrong_identity true|false) and import again.")
    return table

class ImportLabels(Command):
    """Set the imported fields of every listed image; revert restores what each one had."""

    action = "import_labels"

    def __init__(self, project, table: LabelTable) -> None:
        super().__init__()
        self.table = table
        self.changes = {f: pairs for f, pairs in table.changes.items() if pairs}
        if not self.changes:
            raise UserInputError("the labels file sets no value (every label cell is empty)",
                                 file=table.path, fix="fill in tier, score, seed or "
                                 "wrong_identity for some rows.")
        self.previous: dict[str, list[tuple[int, object]]] = {}
        for f, pairs in self.changes.items():
            ids = [i for i, _ in pairs]
            current = dict(read_annotation_field(project, f, ids))
            self.previous[f] = [(i, current.get(i)) for i in ids]

    @property
    def text(self) -> str:
        n = len(self.image_ids())
        return f"Import labels of {n} image(s) from {self.table.path.name}"

    def image_ids(self) -> list[int]:
        return self.table.image_ids()

    def _before(self):
        return {"file": str(self.table.path),
                **{f: {str(i): v for i, v in pairs} for f, pairs in self.previous.items()}}

    def _after(self):
        return {"file": str(self.table.path),
                **{f: {str(i): v for i, v in pairs} for f, pairs in self.changes.items()}}

    def _apply(self, conn):
        for f, pairs in self.changes.items():
            _write_field(conn, f, pairs)

    def _revert(self, conn):
        for f, pairs in self.previous.items():
            _write_field(conn, f, pairs)

def import_labels(project, csv_path: str | Path) -> ImportLabels:
    """Read, check and apply a labels CSV; the returned command can be reverted (undo)."""
    command = ImportLabels(project, read_label_table(project, csv_path))
    command.apply(project)
    return command
