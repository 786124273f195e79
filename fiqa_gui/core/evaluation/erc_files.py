"""The files of `fiqa-gui erc --out DIR`: `curves.csv` (one row per source, FMR and reject
fraction), `auc.json` (one object per source and FMR: area, interval, pair counts, threshold,
how the pairs were chosen) and `erc.png`, written together into DIR atomically.

DIR follows the output rule of `atomic_output`: it is refused when it would hold or replace what
the evaluation reads — the project folder or anything in it, any input — whatever `force` says;
an existing DIR is replaced only with `force` and only if an earlier output wrote it."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path

from fiqa_gui.core.atomic_output import atomic_dir, guard_output
from fiqa_gui.core.evaluation.erc import ErcResult
from fiqa_gui.core.evaluation.erc_plot import render_erc_png

CURVE_COLUMNS = ("source", "fmr", "variant", "reject_fraction", "fnmr", "fnmr_low",
                 "fnmr_high", "threshold", "genuine_kept")
FILES = ("curves.csv", "auc.json", "erc.png")


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _cell(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


def auc_records(result: ErcResult) -> list[dict]:
    """What `auc.json` holds: one object per (source, FMR)."""
    out = []
    for c in result.curves:
        out.append({
            "source": c.source, "fmr": c.fmr, "variant": c.variant, "auc": _num(c.auc),
            "auc_low": _num(c.auc_interval[0]) if c.auc_interval else None,
            "auc_high": _num(c.auc_interval[1]) if c.auc_interval else None,
            "genuine_pairs": result.genuine_pairs, "impostor_pairs": result.impostor_pairs,
            "threshold": _num(c.threshold), "reject_fractions": [float(r) for r in
                                                                 result.reject_fractions],
            "bootstrap": result.bootstrap, "seed": result.seed, "sampling": result.sampling,
            **{k: v for k, v in result.info.items() if k in ("project", "run_id", "manifest",
                                                             "embeddings", "scores")},
        })
    return out


def curve_rows(result: ErcResult) -> Iterable[list[str]]:
    for c in result.curves:
        for j, r in enumerate(result.reject_fractions):
            yield [c.source, repr(c.fmr), c.variant, repr(float(r)), _cell(c.fnmr[j]),
                   _cell(None if c.fnmr_low is None else c.fnmr_low[j]),
                   _cell(None if c.fnmr_high is None else c.fnmr_high[j]),
                   _cell(c.thresholds[j]), _cell(c.genuine_kept[j])]


def check_erc_destination(out: str | Path, *, force: bool,
                          protected: Iterable[str | Path] = ()) -> Path:
    """The output rule (`atomic_output.guard_output`) for the folder `out`: never one holding
    or being a `protected` path (the project's own files, the inputs), even with `force`."""
    return guard_output(out, force=force, kind="dir", protected=protected)


def write_erc_outputs(result: ErcResult, out: str | Path, *, force: bool = False,
                      protected: Iterable[str | Path] = ()) -> list[Path]:
    """Write curves.csv, auc.json and erc.png into the folder `out`; return their paths."""
    protected = list(protected)
    out = check_erc_destination(out, force=force, protected=protected)
    marker = {"kind": "erc", "sources": result.sources, "fmrs": result.fmrs}
    with atomic_dir(out, force=force, marker=marker, protected=protected) as tmp:
        with open(tmp / "curves.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(CURVE_COLUMNS)
            w.writerows(curve_rows(result))
        (tmp / "auc.json").write_text(
            json.dumps(auc_records(result), indent=1, allow_nan=False), encoding="utf-8")
        render_erc_png(result, tmp / "erc.png")
    return [out / name for name in FILES]
