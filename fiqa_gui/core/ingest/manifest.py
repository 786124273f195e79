"""Read a CSV manifest (`path`, `cluster`, any attribute columns) with validation.

Every user mistake becomes a `UserInputError` naming the file, the line (as an editor shows it:
the header is line 1; a quoted record spanning several lines is named by the line it starts on)
and the fix. Paths are kept exactly as written — spaces and, on POSIX, backslashes are part of
file names there — and two rows naming the same file (also through a symlink, or as `a/../b`)
are duplicates.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.dataset import Dataset

REQUIRED_COLUMNS = ("path", "cluster")


def decode_csv_text(path: Path, kind: str = "manifest") -> str:
    """A CSV file's text: UTF-16 with a BOM, else UTF-8 (BOM or not); bad bytes are a
    `UserInputError` naming the line. `kind` names the file in the fix ("manifest", …)."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UserInputError(
            f"the file is not valid UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
            f"{err.start} cannot be decoded)",
            file=path, row=line, row_kind="line",
            fix=f"save the {kind} as UTF-8 CSV (in a spreadsheet: 'CSV UTF-8').",
        ) from None


def csv_records(text: str, path: Path) -> list[tuple[int, list[str]]]:
    """The non-blank records of CSV `text` with the editor line each starts on (a quoted cell
    may span lines); a parse error is a `UserInputError` naming the record's first line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    start = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                records.append((start, row))
            start = reader.line_num + 1
    except csv.Error as err:
        raise UserInputError(f"the CSV cannot be parsed ({err}); the record starting on this "
                             "line runs to the end of the file" if "EOF" in str(err) else
                             f"the CSV cannot be parsed ({err})", file=path,
                             row=start, row_kind="line",
                             fix="check the quoting on that line (a quote opened and never "
                             "closed?).") from None
    return records


def read_manifest(path: str | Path) -> Dataset:
    """Parse and validate a manifest; image files are checked separately (`validate_images`)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError("the manifest does not exist", file=path,
                             fix="check the path passed to --manifest.")
    text = decode_csv_text(path)
    if "\x00" in text:
        raise UserInputError("the file contains NUL bytes; it is not a CSV text file", file=path,
                             fix="pass a CSV manifest with a header row (path,cluster,...).")
    records = csv_records(text, path)
    if not records:
        raise UserInputError("the manifest is empty", file=path,
                             fix="add a header row 'path,cluster' and one row per image.")
    header_line, header = records[0]
    header = [h.strip() for h in header]
    lowered = [h.lower() for h in header]
    for col in REQUIRED_COLUMNS:
        if col not in lowered:
            raise UserInputError(
                f"the required column '{col}' is missing (header found: {', '.join(header)})",
                file=path, row=header_line, row_kind="line",
                fix="the first row must name the columns, including 'path' and 'cluster'.")
    dupes = {h for h in lowered if lowered.count(h) > 1}
    if dupes:
        raise UserInputError(f"the header repeats column(s) {', '.join(sorted(dupes))}",
                             file=path, row=header_line, row_kind="line",
                             fix="give every column a distinct name.")
    if len(records) == 1:
        raise UserInputError("the manifest has a header but no image rows", file=path,
                             fix="add one row per image below the header.")
    ipath, iclus = lowered.index("path"), lowered.index("cluster")
    attr_cols = [(i, h) for i, h in enumerate(header) if i not in (ipath, iclus)]
    paths: list[str] = []
    lines: list[int] = []
    clusters: list[str] = []
    attributes: dict[str, list[str]] = {h: [] for _, h in attr_cols}
    seen: dict[str, int] = {}
    base, dirs = str(path.parent), {}
    for line, row in records[1:]:
        if len(row) != len(header):
            raise UserInputError(
                f"the row has {len(row)} fields but the header has {len(header)}",
                file=path, row=line, row_kind="line",
                fix="quote cells that contain commas, and give every row the header's columns.")
        p, c = row[ipath], row[iclus].strip()  # a path is a file name: kept as written
        if not p.strip():
            raise UserInputError("the 'path' cell is empty", file=path, row=line,
                                 row_kind="line", fix="give every row an image path.")
        if not c:
            raise UserInputError("the 'cluster' cell is empty", file=path, row=line,
                                 row_kind="line",
                                 fix="give every row a cluster (identity) label.")
        key = _normalise_key(p, base, dirs)
        if key in seen:
            raise UserInputError(
                f"duplicate path '{p}' (first listed on line {seen[key]})",
                file=path, row=line, row_kind="line",
                fix="list each image once; remove or rename the duplicate row.")
        seen[key] = line
        paths.append(p.replace("\\", "/") if os.name == "nt" else p)
        lines.append(line)
        clusters.append(c)
        for i, h in attr_cols:
            attributes[h].append(row[i].strip())
    return Dataset(root=path.parent.resolve(), paths=paths, clusters=clusters,
                   attributes=attributes, source="manifest", source_path=path.resolve(),
                   lines=lines)


def _normalise_key(p: str, base: str, dirs: dict | None = None) -> str:
    """The file a row names, symlinks and '..' resolved (a missing file is kept as spelled; it
    is reported later), for finding duplicate rows. Each folder is resolved and listed once
    (`dirs` caches both: a manifest has far fewer folders than rows), and a file is resolved
    itself only when its folder lists it as a link — the same key as resolving every row, at a
    fraction of the system calls (one `scandir` per folder instead of an `lstat` per row)."""
    q = p if os.path.isabs(p) else os.path.join(base, p)
    head, tail = os.path.split(q)
    if tail in ("", ".", ".."):
        return os.path.normcase(os.path.realpath(q))
    if dirs is None:
        dirs = {}
    known = dirs.get(head)
    if known is None:
        real = os.path.realpath(head)
        known = dirs[head] = (real + os.sep if not real.endswith(os.sep) else real,
                              _links_in(real))
    real, links = known
    if tail in links:
        return os.path.normcase(os.path.realpath(q))
    return os.path.normcase(real + tail)


def _links_in(folder: str) -> frozenset[str]:
    """Names of the symbolic links in a folder (none when it cannot be listed)."""
    try:
        with os.scandir(folder) as entries:
            return frozenset(e.name for e in entries if e.is_symlink())
    except OSError:
        return frozenset()
