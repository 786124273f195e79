"""Read a CSV manifest (`path`, `cluster`, any attribute columns) with validation.

Every user mistake becomes a `UserInputError` naming the file, the line (as an editor shows it:
the header is line 1; a quoted record spanning several lines is named by the line it starts on)
and the fix. Paths are kept exactly as written — spaces and, on POSIX, backslashes are part of
file names there — and two rows naming the same file (also through a symlink, or as `a/../b`)
are duplicates.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.columns import (
    CodedColumnBuilder,
    RowNumbers,
    TextColumn,
    TextColumnBuilder,
)
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
    return list(_stream_records(path, io.StringIO(text, newline="")))


def _stream_records(path: Path, lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """`csv_records` over an iterable of text lines, one record at a time."""
    reader = csv.reader(lines)
    start = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as err:
        raise UserInputError(f"the CSV cannot be parsed ({err}); the record starting on this "
                             "line runs to the end of the file" if "EOF" in str(err) else
                             f"the CSV cannot be parsed ({err})", file=path,
                             row=start, row_kind="line",
                             fix="check the quoting on that line (a quote opened and never "
                             "closed?).") from None


def _encoding(path: Path) -> str | None:
    """The encoding the whole file decodes with, NUL-free (UTF-16 with a BOM, else UTF-8), read
    in blocks; None when `decode_csv_text` and the NUL check must say what is wrong."""
    with path.open("rb") as f:
        head = f.read(4)
    encodings = (["utf-16"] if head.startswith((b"\xff\xfe", b"\xfe\xff")) else []) + \
        ["utf-8-sig"]
    for enc in encodings:
        decoder = codecs.getincrementaldecoder(enc)()
        try:
            with path.open("rb") as f:
                while block := f.read(1 << 24):
                    if "\x00" in decoder.decode(block):
                        return None
                if "\x00" in decoder.decode(b"", final=True):
                    return None
            return enc
        except UnicodeDecodeError:
            continue
    return None


def read_manifest(path: str | Path) -> Dataset:
    """Parse and validate a manifest; image files are checked separately (`validate_images`).

    The file is read as a stream (never its whole text, nor a Python object per cell, in
    memory): paths, clusters and lines go into compact columns (`columns`), and duplicate rows
    are found from one hash per row, confirmed on the rows whose hashes meet."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError("the manifest does not exist", file=path,
                             fix="check the path passed to --manifest.")
    enc = _encoding(path)
    if enc is None:  # bad bytes or NUL: the whole-text reading names them
        text = decode_csv_text(path)
        if "\x00" in text:
            raise UserInputError("the file contains NUL bytes; it is not a CSV text file",
                                 file=path, fix="pass a CSV manifest with a header row "
                                 "(path,cluster,...).")
        return _read_records(path, iter(csv_records(text, path)))
    with path.open(encoding=enc, newline="") as f:
        return _read_records(path, _stream_records(path, f))


def _read_records(path: Path, records: Iterator[tuple[int, list[str]]]) -> Dataset:
    header_line, header = next(records, (None, None))
    if header is None:
        raise UserInputError("the manifest is empty", file=path,
                             fix="add a header row 'path,cluster' and one row per image.")
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
    ipath, iclus = lowered.index("path"), lowered.index("cluster")
    attr_cols = [(i, h) for i, h in enumerate(header) if i not in (ipath, iclus)]
    paths, clusters = TextColumnBuilder(), CodedColumnBuilder()
    lines, hashes = array("q"), array("q")
    attributes: dict[str, list[str]] = {h: [] for _, h in attr_cols}
    base, dirs = str(path.parent), {}
    width = len(header)
    windows = os.name == "nt"
    for line, row in records:
        if len(row) != width:
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
        hashes.append(hash(_normalise_key(p, base, dirs)))
        paths.append(p.replace("\\", "/") if windows else p)
        lines.append(line)
        clusters.append(c)
        for i, h in attr_cols:
            attributes[h].append(row[i].strip())
    if not len(lines):
        raise UserInputError("the manifest has a header but no image rows", file=path,
                             fix="add one row per image below the header.")
    paths_col = paths.build()
    row_lines = RowNumbers(lines)
    del lines
    _refuse_duplicates(path, np.frombuffer(hashes, dtype=np.int64), paths_col, row_lines,
                       base, dirs)
    return Dataset(root=path.parent.resolve(), paths=paths_col, clusters=clusters.build(),
                   attributes=attributes, source="manifest", source_path=path.resolve(),
                   lines=row_lines)


def _refuse_duplicates(path: Path, hashes: np.ndarray, paths: TextColumn, lines: RowNumbers,
                       base: str, dirs: dict) -> None:
    """Two rows naming the same file: the error names the first row that repeats an earlier
    one, and that earlier one's line (as a row-by-row check would). Only rows whose key hashes
    meet are looked at again (a hash collision is not a duplicate)."""
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    same = sorted_h[1:] == sorted_h[:-1]
    if not same.any():
        return
    meet = np.zeros(len(hashes), dtype=bool)
    meet[order[1:][same]] = True
    meet[order[:-1][same]] = True
    first: dict[str, int] = {}
    for i in np.flatnonzero(meet).tolist():  # in row order
        p = paths[i]  # on Windows stored with '/': the same file, the same key
        key = _normalise_key(p, base, dirs)
        if key in first:
            raise UserInputError(
                f"duplicate path '{p}' (first listed on line {lines[first[key]]})",
                file=path, row=lines[i], row_kind="line",
                fix="list each image once; remove or rename the duplicate row.")
        first[key] = i


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
