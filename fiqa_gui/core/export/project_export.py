"""Exports for training pipelines: seed sets (CSV, JSON Lines, ImageFolder tree), corrected
quality labels for the whole dataset (the `path<TAB>label` file SDD-FIQA's trainer reads), and
the audit log (CSV).

Every output is written atomically (`atomic_output`): into a temporary sibling, renamed into
place at the end; an exception or a cancel (also raised from the progress callback) leaves no
partial output. An existing output is replaced only with `force=True`. Rows stream from SQLite in
chunks, so memory stays flat for large sets.

Corrected label of an image (0-100, the scale of SDD-FIQA's normalised pseudo-labels), first
that applies:
1. the curator's corrected score;
2. the curator's tier: high 85, mid 50, low 15, unusable 0 (`TIER_LABELS`; the middles of the
   top, middle and bottom thirds of the scale, as tiers are thirds by default);
3. `quality` of the chosen score run (default: the latest) — or, with
   `label_source="learned"`, `learned` of the chosen learn run (default: the latest; the model
   trained on the curators' labels, `core.learning`);
4. `sdd` of that run;
otherwise the image has no label. The label file leaves out images without a label, unreadable
images (the trainer would fail to open them) and wrong-identity images (their label was measured
against the wrong identity) unless `include_wrong_identity=True`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from fiqa_gui.core.atomic_output import (
    NameDeduper,
    assert_inside,
    assert_plain_name,
    atomic_dir,
    atomic_file,
    guard_output,
    safe_name,
)
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.seedsets.sampling import image_tiers, latest_score_run

TIER_LABELS = {"high": 85.0, "mid": 50.0, "low": 15.0, "unusable": 0.0}
SCORE_NAMES = ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality")
# which seed images an export holds; "all" also keeps rejected and wrong-identity ones
INCLUDE = {"approved": ("approved",), "proposed": ("approved", "proposed"),
           "all": ("approved", "proposed", "rejected")}
LINK_MODES = ("copy", "hardlink", "symlink")
CHUNK = 2048
TREE_INDEX = "index.csv"  # a cluster of this name gets a de-duplicated folder name instead


@dataclass
class ExportReport:
    """What one export wrote."""

    kind: str
    path: Path
    rows: int
    skipped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def corrected_label(corrected_score: float | None, tier: str | None, quality: float | None,
                    sdd: float | None) -> tuple[float | None, str]:
    """(label, source) by the rule in the module docstring; (None, '') when nothing applies."""
    if _finite(corrected_score):
        return float(corrected_score), "corrected_score"
    if tier in TIER_LABELS:
        return TIER_LABELS[tier], "tier"
    if _finite(quality):
        return float(quality), "quality"
    if _finite(sdd):
        return float(sdd), "sdd"
    return None, ""


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _tick(done: int, total: int, stage: str, progress: ProgressCallback,
          cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.check()
    progress(done, total, stage)


def check_score_run(project, run_id: int | None) -> int | None:
    """`run_id` if it is a stored run with per-image scores; the latest such run for None.

    A missing run, or a clustering run (it holds no scores), is refused: exporting it would
    write files without a single label.
    """
    if run_id is None:
        return latest_score_run(project)
    row = project.conn.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
    scored = [str(r.id) for r in project.runs() if r.kind != "cluster"]
    listed = f" (scoring runs: {', '.join(scored)})" if scored else " (it has no scoring runs)"
    if row is None:
        raise UserInputError(f"run {run_id} does not exist in this project{listed}",
                             file=project.folder, fix="pick a run that 'fiqa-gui info' lists.")
    has_scores = project.conn.execute("SELECT 1 FROM scores WHERE run_id = ? LIMIT 1",
                                      (run_id,)).fetchone()
    if row[0] == "cluster" or has_scores is None:
        raise UserInputError(f"run {run_id} is a {row[0]} run without per-image scores"
                             f"{listed}", file=project.folder,
                             fix="pass a scoring run to --run, or leave --run out for the latest.")
    return run_id


# ----------------------------------------------------------------------------- seed rows
def _image_root(project) -> Path:
    return Path(project.meta().get("image_root", project.folder))


def _absolute(root: Path, p: str) -> str:
    q = Path(p)
    return str(q if q.is_absolute() else root / q)


def _extra_names(project, run_id: int | None) -> list[str]:
    if run_id is None:
        return []
    row = project.conn.execute("SELECT extra_json FROM scores WHERE run_id = ? AND "
                               "extra_json IS NOT NULL LIMIT 1", (run_id,)).fetchone()
    return sorted(json.loads(row[0])) if row else []


def _attribute_names(project) -> list[str]:
    return [r[0] for r in project.conn.execute("SELECT name FROM attribute_names ORDER BY id")]


def _seed_filter(include: str, only_approved_sets: bool) -> tuple[str, list]:
    if include not in INCLUDE:
        raise UserInputError(f"unknown selection {include!r}",
                             fix=f"use one of {', '.join(INCLUDE)}.")
    states = INCLUDE[include]
    where = f"a.seed_state IN ({', '.join('?' * len(states))})"
    if include != "all":  # a seed marked wrong identity since is no longer one
        where += " AND a.wrong_identity = 0"
    if only_approved_sets:
        where += " AND ss.state = 'approved'"
    return where, list(states)


def seed_rows(project, *, run_id: int | None = None, include: str = "approved",
              only_approved_sets: bool = False) -> tuple[int, Iterator[dict]]:
    """(count, rows) of the seed images to export, one dict per image in image-id order."""
    if run_id is None:
        run_id = latest_score_run(project)
    where, args = _seed_filter(include, only_approved_sets)
    base = ("FROM images i JOIN clusters c ON c.id = i.cluster_id "
            "JOIN annotations a ON a.image_id = i.id "
            "LEFT JOIN seed_sets ss ON ss.cluster_id = i.cluster_id WHERE " + where)
    total = project.conn.execute(f"SELECT COUNT(*) {base}", args).fetchone()[0]
    return total, _iter_seed_rows(project, run_id, base, args)


def _iter_seed_rows(project, run_id, base, args) -> Iterator[dict]:
    conn = project.conn
    root = _image_root(project)
    tiers, tier_source = image_tiers(project, run_id=run_id)
    attr_names = _attribute_names(project)
    cluster_run = conn.execute("SELECT MAX(id) FROM runs WHERE kind = 'cluster'").fetchone()[0]
    cur = conn.execute(
        "SELECT i.id, i.path, c.name, i.cluster_id, a.seed_state, ss.state, a.tier, "
        f"a.corrected_score, a.wrong_identity, a.note {base} ORDER BY i.id", args)
    while True:
        batch = cur.fetchmany(CHUNK)
        if not batch:
            return
        ids = [r[0] for r in batch]
        marks = ", ".join("?" * len(ids))
        scores = {}
        if run_id is not None:
            for r in conn.execute(
                    f"SELECT image_id, {', '.join(SCORE_NAMES)}, flags, extra_json FROM scores "
                    f"WHERE run_id = ? AND image_id IN ({marks})", [run_id, *ids]):
                scores[r[0]] = r[1:]
        attrs: dict[int, dict[str, str]] = {i: dict.fromkeys(attr_names, "") for i in ids}
        for image_id, a, value in conn.execute(
                f"SELECT image_id, attribute_id, value FROM attributes "
                f"WHERE image_id IN ({marks})", ids):
            attrs[image_id][attr_names[a]] = value
        for (image_id, path, cluster, cluster_id, state, set_state, cur_tier, corrected,
             wrong, note) in batch:
            s = scores.get(image_id)
            score = dict(zip(SCORE_NAMES, s[:len(SCORE_NAMES)], strict=True)) if s else \
                dict.fromkeys(SCORE_NAMES)
            if s and s[-1]:
                score.update(json.loads(s[-1]))
            label, label_source = corrected_label(corrected, cur_tier, score.get("quality"),
                                                  score.get("sdd"))
            yield {
                "image_id": image_id, "path": path, "abs_path": _absolute(root, path),
                "cluster": cluster, "cluster_id": cluster_id, "seed_state": state,
                "seed_set_state": set_state or "", "tier": tiers[image_id] or "",
                "tier_source": tier_source[image_id] or "", "corrected_label": label,
                "label_source": label_source, "corrected_score": corrected,
                "wrong_identity": bool(wrong), "note": note or "",
                "score_run_id": run_id, "cluster_run_id": cluster_run, "scores": score,
                "flags": (s[len(SCORE_NAMES)].split(";") if s and s[len(SCORE_NAMES)] else []),
                "attributes": attrs[image_id],
            }


CSV_FIXED = ("image_id", "path", "abs_path", "cluster", "cluster_id", "seed_state",
             "seed_set_state", "tier", "tier_source", "corrected_label", "label_source",
             "corrected_score", "wrong_identity", "note", "score_run_id", "cluster_run_id")


def _csv_cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def export_seeds_csv(project, out: str | Path, *, run_id: int | None = None,
                     include: str = "approved", only_approved_sets: bool = False,
                     force: bool = False, progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> ExportReport:
    """The seed set as CSV: fixed columns, every score of the run (+ its extra values), flags
    (';'-joined), and one `attr:NAME` column per attribute. Empty cell = no value."""
    t0 = time.perf_counter()
    protected = list(project.protected_paths())
    guard_output(out, force=force, kind="file", protected=protected)
    run_id = check_score_run(project, run_id)
    extra = _extra_names(project, run_id)
    attrs = _attribute_names(project)
    header = [*CSV_FIXED, *SCORE_NAMES, *extra, "flags", *(f"attr:{a}" for a in attrs)]
    total, rows = seed_rows(project, run_id=run_id, include=include,
                            only_approved_sets=only_approved_sets)
    n = 0
    with atomic_file(out, force=force, protected=protected) as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            sc = row["scores"]
            w.writerow([_csv_cell(row[c]) for c in CSV_FIXED]
                       + [_csv_cell(sc.get(c)) for c in (*SCORE_NAMES, *extra)]
                       + [";".join(row["flags"])]
                       + [row["attributes"].get(a, "") for a in attrs])
            n += 1
            if n % CHUNK == 0:
                _tick(n, total, "exporting seeds (CSV)", progress, cancel)
        _tick(n, total, "exporting seeds (CSV)", progress, cancel)
    return ExportReport("seeds_csv", Path(out).absolute(), n, seconds=time.perf_counter() - t0)


def _json_value(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def export_seeds_jsonl(project, out: str | Path, *, run_id: int | None = None,
                       include: str = "approved", only_approved_sets: bool = False,
                       force: bool = False, progress: ProgressCallback = no_progress,
                       cancel: CancelToken | None = None) -> ExportReport:
    """The seed set as JSON Lines: one object per image, scores/attributes as nested objects,
    null for no value."""
    t0 = time.perf_counter()
    protected = list(project.protected_paths())
    guard_output(out, force=force, kind="file", protected=protected)
    run_id = check_score_run(project, run_id)
    total, rows = seed_rows(project, run_id=run_id, include=include,
                            only_approved_sets=only_approved_sets)
    n = 0
    with atomic_file(out, force=force, newline="\n", protected=protected) as f:
        for row in rows:
            row["scores"] = {k: _json_value(v) for k, v in row["scores"].items()}
            f.write(json.dumps({k: _json_value(v) for k, v in row.items()},
                               ensure_ascii=False, allow_nan=False))
            f.write("\n")
            n += 1
            if n % CHUNK == 0:
                _tick(n, total, "exporting seeds (JSONL)", progress, cancel)
        _tick(n, total, "exporting seeds (JSONL)", progress, cancel)
    return ExportReport("seeds_jsonl", Path(out).absolute(), n,
                        seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- ImageFolder tree
def _basename(path: str) -> str:
    """The file name of a stored path, whatever its separators (POSIX or Windows)."""
    return PureWindowsPath(PurePosixPath(path).name).name


def export_tree(project, out: str | Path, *, mode: str = "copy", include: str = "approved",
                only_approved_sets: bool = False, force: bool = False,
                progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> ExportReport:
    """The seed set as an ImageFolder tree `out/<cluster>/<image>` (copy, hardlink or symlink),
    with `index.csv` mapping each file to its image. Cluster and file names are sanitised and
    de-duplicated; every file is checked to resolve inside `out`."""
    if mode not in LINK_MODES:
        raise UserInputError(f"unknown link mode {mode!r}",
                             fix=f"use one of {', '.join(LINK_MODES)}.")
    t0 = time.perf_counter()
    protected = list(project.protected_paths())
    out = guard_output(out, force=force, kind="dir", protected=protected)
    total, rows = seed_rows(project, include=include, only_approved_sets=only_approved_sets)
    dir_names = NameDeduper()
    dir_names.unique(TREE_INDEX)  # a cluster named 'index.csv' gets 'index~2.csv'; the marker
    # starts with a dot, which `safe_name` never hands out
    cluster_dirs: dict[int, tuple[str, NameDeduper]] = {}
    n = 0
    marker = {"kind": "imagefolder", "project": str(project.folder), "mode": mode,
              "include": include}
    with atomic_dir(out, force=force, marker=marker, protected=protected) as tmp:
        with open(tmp / TREE_INDEX, "w", newline="", encoding="utf-8") as index:
            w = csv.writer(index)
            w.writerow(["file", "image_id", "cluster", "source"])
            for row in rows:
                cid = row["cluster_id"]
                if cid not in cluster_dirs:
                    d = dir_names.unique(safe_name(row["cluster"], fallback="cluster"))
                    (tmp / d).mkdir()
                    # each folder is resolved once; a plain file name inside a checked folder
                    # cannot resolve anywhere else, so files only need the name check
                    assert_inside(tmp, tmp / d)
                    cluster_dirs[cid] = (d, NameDeduper())
                d, names = cluster_dirs[cid]
                name = names.unique(safe_name(_basename(row["path"]),
                                              fallback=f"image_{row['image_id']}"))
                _place(Path(row["abs_path"]), tmp / d / assert_plain_name(name), mode)
                w.writerow([f"{d}/{name}", row["image_id"], row["cluster"], row["abs_path"]])
                n += 1
                if n % 256 == 0:
                    _tick(n, total, f"exporting tree ({mode})", progress, cancel)
        _tick(n, total, f"exporting tree ({mode})", progress, cancel)
    return ExportReport("tree", out, n, seconds=time.perf_counter() - t0)


def _place(src: Path, dest: Path, mode: str) -> None:
    if not src.is_file():
        raise UserInputError("the image file is missing", file=src,
                             fix="restore it, or remove it from the seed set.")
    try:
        if mode == "copy":
            shutil.copyfile(src, dest)
        elif mode == "hardlink":
            os.link(src, dest)
        else:
            os.symlink(os.path.abspath(src), dest)
    except OSError as err:
        fix = ("use --link copy or --link symlink (hard links need the same file system)."
               if mode == "hardlink" else "check free space and permissions.")
        raise UserInputError(f"cannot {mode} the image ({err.strerror or err})", file=src,
                             fix=fix) from None


# ----------------------------------------------------------------------------- labels
LABEL_SOURCES = ("quality", "learned")


def learned_labels(project, run_id: int | None) -> tuple[int, list[float]]:
    """(run id, `learned` per image id) of learn run `run_id`, else of the newest learn run."""
    learn_runs = [r for r in project.runs() if r.kind == "learn"]
    if run_id is None:
        if not learn_runs:
            raise UserInputError("there is no learn run to take learned labels from",
                                 file=project.folder,
                                 fix="run 'fiqa-gui learn PROJECT' first (Scoring → Learn from "
                                     "my labels), or export --label-source quality.")
        run_id = learn_runs[-1].id
    scores = project.scores(run_id)
    if "learned" not in scores:
        listed = ", ".join(str(r.id) for r in learn_runs) or "none"
        raise UserInputError(f"run {run_id} has no learned column (learn runs: {listed})",
                             file=project.folder,
                             fix="pass a learn run to --run, or export --label-source quality.")
    return run_id, [float(v) for v in scores["learned"]]


def export_labels(project, out: str | Path, *, run_id: int | None = None,
                  paths: str = "absolute", include_wrong_identity: bool = False,
                  on_whitespace: str = "error", force: bool = False,
                  label_source: str = "quality",
                  progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None) -> ExportReport:
    """Corrected labels of the whole dataset as `path<TAB>label` lines (the list SDD-FIQA's
    trainer reads: it splits each line on whitespace and opens the path as given, hence absolute
    paths by default). Paths containing whitespace would break that reader: they are an error
    (`on_whitespace="error"`) or left out (`"skip"`)."""
    if paths not in ("absolute", "relative"):
        raise UserInputError(f"unknown path style {paths!r}", fix="use absolute or relative.")
    if on_whitespace not in ("error", "skip"):
        raise UserInputError(f"unknown choice {on_whitespace!r}", fix="use error or skip.")
    if label_source not in LABEL_SOURCES:
        raise UserInputError(f"unknown label source {label_source!r}",
                             fix=f"use one of {', '.join(LABEL_SOURCES)}.")
    t0 = time.perf_counter()
    protected = list(project.protected_paths())
    guard_output(out, force=force, kind="file", protected=protected)
    learned = None
    if label_source == "learned":
        run_id, learned = learned_labels(project, run_id)
    run_id = check_score_run(project, run_id)
    root = _image_root(project)
    conn = project.conn
    total = project.image_count()
    cur = conn.execute(
        "SELECT i.id, i.path, i.unreadable, a.corrected_score, a.tier, a.wrong_identity, "
        "s.quality, s.sdd FROM images i LEFT JOIN annotations a ON a.image_id = i.id "
        "LEFT JOIN scores s ON s.image_id = i.id AND s.run_id = ? ORDER BY i.id",
        (-1 if run_id is None else run_id,))
    n = skipped = done = 0
    reasons: dict[str, int] = {}
    with atomic_file(out, force=force, newline="\n", protected=protected) as f:
        while True:
            batch = cur.fetchmany(CHUNK)
            if not batch:
                break
            for image_id, path, unreadable, corrected, tier, wrong, quality, sdd in batch:
                if learned is not None:
                    quality = learned[image_id]
                label, _ = corrected_label(corrected, tier, quality, sdd)
                why = ("unreadable" if unreadable else
                       "wrong identity" if wrong and not include_wrong_identity else
                       "no label" if label is None else None)
                shown = _absolute(root, path) if paths == "absolute" else path
                if why is None and any(c.isspace() for c in shown):
                    if on_whitespace == "error":
                        raise UserInputError(
                            "the image path contains whitespace, which the SDD-FIQA list "
                            "reader splits on", file=shown, row=image_id, row_kind="image",
                            fix="rename the file, or leave such images out with "
                            "--skip-whitespace (or export relative paths: --label-paths "
                            "relative).")
                    why = "whitespace in path"
                if why:
                    skipped += 1
                    reasons[why] = reasons.get(why, 0) + 1
                    continue
                f.write(f"{shown}\t{label!r}\n")
                n += 1
            done += len(batch)
            _tick(done, total, "exporting labels", progress, cancel)
    notes = [f"{v} left out: {k}" for k, v in sorted(reasons.items())]
    return ExportReport("labels", Path(out).absolute(), n, skipped,
                        time.perf_counter() - t0, notes)


def read_labels(path: str | Path) -> list[tuple[str, float]]:
    """Parse a label file back: (path, label) per line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            p, label = line.rstrip("\n").split("\t")
            out.append((p, float(label)))
    return out


# ----------------------------------------------------------------------------- audit log
AUDIT_COLUMNS = ("id", "at", "action", "image_ids", "before_json", "after_json")


def export_audit(project, out: str | Path, *, force: bool = False,
                 progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> ExportReport:
    """The audit log (every saved curator action, oldest first) as CSV; JSON cells as stored."""
    t0 = time.perf_counter()
    protected = list(project.protected_paths())
    guard_output(out, force=force, kind="file", protected=protected)
    total = project.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    cur = project.conn.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log ORDER BY id")
    n = 0
    with atomic_file(out, force=force, protected=protected) as f:
        w = csv.writer(f)
        w.writerow(AUDIT_COLUMNS)
        while True:
            batch = cur.fetchmany(CHUNK)
            if not batch:
                break
            w.writerows([["" if v is None else v for v in r] for r in batch])
            n += len(batch)
            _tick(n, total, "exporting audit log", progress, cancel)
    return ExportReport("audit", Path(out).absolute(), n, seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- all at once
def export_command(project, *, csv_path: str | Path | None = None,
                   jsonl_path: str | Path | None = None, tree: str | Path | None = None,
                   link: str = "copy", labels: str | Path | None = None,
                   audit: str | Path | None = None, run_id: int | None = None,
                   include: str = "approved", only_approved_sets: bool = False,
                   label_paths: str = "absolute", include_wrong_identity: bool = False,
                   on_whitespace: str = "error", force: bool = False,
                   label_source: str = "quality",
                   progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None) -> list[ExportReport]:
    """`fiqa-gui export`: every requested output; all destinations are checked before any is
    written, so a refused one does not leave the others half done."""
    asked = [(p, k) for p, k in ((csv_path, "file"), (jsonl_path, "file"), (tree, "dir"),
                                 (labels, "file"), (audit, "file")) if p is not None]
    if not asked:
        raise UserInputError("nothing to export",
                             fix="pass one or more of --csv, --jsonl, --tree, --labels, --audit.")
    seen = set()
    protected = list(project.protected_paths())
    for p, kind in asked:
        key = os.path.realpath(p)
        if key in seen:
            raise UserInputError("the same path is given for two outputs", file=p,
                                 fix="give each output its own path.")
        seen.add(key)
        guard_output(p, force=force, kind=kind, protected=protected)
    if run_id is not None:
        check_score_run(project, run_id)
    if labels is not None and label_source == "learned":
        learned_labels(project, run_id)  # refused before anything is written
    seeds = {"run_id": run_id, "include": include, "only_approved_sets": only_approved_sets,
             "force": force, "progress": progress, "cancel": cancel}
    reports = []
    if csv_path is not None:
        reports.append(export_seeds_csv(project, csv_path, **seeds))
    if jsonl_path is not None:
        reports.append(export_seeds_jsonl(project, jsonl_path, **seeds))
    if tree is not None:
        reports.append(export_tree(project, tree, mode=link, include=include,
                                   only_approved_sets=only_approved_sets, force=force,
                                   progress=progress, cancel=cancel))
    if labels is not None:
        reports.append(export_labels(project, labels, run_id=run_id, paths=label_paths,
                                     include_wrong_identity=include_wrong_identity,
                                     on_whitespace=on_whitespace, force=force,
                                     label_source=label_source,
                                     progress=progress, cancel=cancel))
    if audit is not None:
        reports.append(export_audit(project, audit, force=force, progress=progress,
                                    cancel=cancel))
    return reports
