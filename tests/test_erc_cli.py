"""`fiqa-gui erc`: the three files on a project and on stand-alone files, the same numbers as
the core, and bad input as exit 2 with one line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fiqa_gui.cli import main
from fiqa_gui.core.evaluation.evaluate import evaluate_project
from fiqa_gui.core.export.score_table import write_scores_csv
from fiqa_gui.core.store import Project

COLUMNS = "sdd,cr,quality,curated,random"


def read_curves(path: Path) -> dict[tuple[str, float], list[float]]:
    out: dict[tuple[str, float], list[float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:5] == ["source", "fmr", "variant", "reject_fraction", "fnmr"]
    for r in rows:
        out.setdefault((r["source"], float(r["fmr"])), []).append(float(r["fnmr"]))
    return out


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("fiqa-gui: error:")
    return err[0]


@pytest.fixture
def files_of_project(sample_project, sample_template, tmp_path):
    """The sample project's manifest and embeddings, and its latest run as a score table."""
    data = sample_template.parent / "data"
    table = tmp_path / "scores.csv"
    with Project.open(sample_project, read_only=True) as project:
        ds = project.dataset()
        s = project.scores(project.latest_run("score").id)
        write_scores_csv(table, ds.paths, ds.clusters, s, s["flags"], {})
    return {"manifest": data / "manifest.csv", "embeddings": data / "embeddings.npy",
            "scores": table}


def test_project_files_parse_and_match_the_core(sample_project, tmp_path, capsys):
    out = tmp_path / "erc"
    rc = main(["erc", str(sample_project), "--columns", COLUMNS, "--fmr", "1e-2,5e-3",
               "--bootstrap", "10", "--seed", "2", "--out", str(out), "-q"])
    assert rc == 0, capsys.readouterr().err
    assert "genuine" in capsys.readouterr().out
    with Project.open(sample_project, read_only=True) as project:
        expected = evaluate_project(project, COLUMNS, fmrs=(1e-2, 5e-3), bootstrap=10, seed=2)
    curves = read_curves(out / "curves.csv")
    assert set(curves) == {(c.source, c.fmr) for c in expected.curves}
    records = json.loads((out / "auc.json").read_text(encoding="utf-8"))
    assert len(records) == len(expected.curves) == 10
    for rec, c in zip(records, expected.curves, strict=True):
        assert {"source", "fmr", "auc", "genuine_pairs", "impostor_pairs", "threshold"} <= set(rec)
        assert (rec["source"], rec["fmr"]) == (c.source, c.fmr)
        assert rec["auc"] == c.auc and rec["threshold"] == c.threshold
        assert [rec["auc_low"], rec["auc_high"]] == list(c.auc_interval)
        assert rec["genuine_pairs"] == expected.genuine_pairs
        assert rec["sampling"]["method"] == "all pairs"
        np.testing.assert_array_equal(curves[(c.source, c.fmr)], c.fnmr)
    with Image.open(out / "erc.png") as img:
        img.load()
        assert img.size == (1000, 640)
        # the plot holds the sources' colours, not a blank canvas
        assert len(img.getcolors(1 << 20)) > 50


def test_file_mode_gives_the_project_numbers(sample_project, files_of_project, tmp_path,
                                             capsys):
    out_p, out_f = tmp_path / "p", tmp_path / "f"
    cols = "sdd,cr,quality,random"
    assert main(["erc", str(sample_project), "--columns", cols, "--fmr", "1e-2",
                 "--out", str(out_p), "-q"]) == 0
    f = files_of_project
    assert main(["erc", "--manifest", str(f["manifest"]), "--embeddings", str(f["embeddings"]),
                 "--scores", str(f["scores"]), "--columns", cols, "--fmr", "1e-2",
                 "--out", str(out_f), "-q"]) == 0, capsys.readouterr().err
    assert read_curves(out_p / "curves.csv") == read_curves(out_f / "curves.csv")
    a = json.loads((out_p / "auc.json").read_text())
    b = json.loads((out_f / "auc.json").read_text())
    assert [r["auc"] for r in a] == [r["auc"] for r in b]


def test_output_rules(sample_project, files_of_project, tmp_path, capsys):
    out = tmp_path / "erc"
    args = ["erc", str(sample_project), "--columns", "sdd", "--fmr", "1e-2", "-q"]
    assert main([*args, "--out", str(out)]) == 0
    capsys.readouterr()
    first = (out / "curves.csv").read_bytes()
    assert main([*args, "--out", str(out)]) == 2
    assert "--force" in one_error_line(capsys)
    assert main([*args, "--out", str(out), "--force", "--columns", "cr"]) == 0
    capsys.readouterr()
    assert (out / "curves.csv").read_bytes() != first
    # the project folder, and a folder holding an input, are never replaced, even with --force
    assert main([*args, "--out", str(sample_project), "--force"]) == 2
    one_error_line(capsys)
    assert (sample_project / "project.sqlite").is_file()
    f = files_of_project
    assert main(["erc", "--manifest", str(f["manifest"]), "--embeddings", str(f["embeddings"]),
                 "--scores", str(f["scores"]), "--columns", "sdd", "--fmr", "1e-2",
                 "--out", str(f["scores"].parent), "--force", "-q"]) == 2
    one_error_line(capsys)
    assert f["scores"].is_file()


@pytest.mark.parametrize("case, expected", [
    ("unknown column", "unknown label source 'nope'"),
    ("short table", "rows but the manifest has"),
    ("one cluster", "only one cluster"),
    ("fmr", "cannot be resolved"),
    ("curated without project", "'curated' needs a project"),
    ("non-number", "not a number"),
])
def test_bad_input_exits_2_with_one_line(case, expected, files_of_project, tmp_path, capsys):
    f = dict(files_of_project)
    columns, fmr = "sdd,cr", "1e-2"
    if case == "unknown column":
        columns = "sdd,nope"
    elif case == "short table":
        lines = f["scores"].read_text(encoding="utf-8").splitlines()
        f["scores"] = tmp_path / "short.csv"
        f["scores"].write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    elif case == "one cluster":
        text = f["manifest"].read_text(encoding="utf-8").splitlines()
        rows = list(csv.reader(text))
        col = rows[0].index("cluster")
        for r in rows[1:]:
            r[col] = "everyone"
        f["manifest"] = f["manifest"].parent / "one_cluster.csv"
        with open(f["manifest"], "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(rows)
    elif case == "fmr":
        fmr = "1e-9"
    elif case == "curated without project":
        columns = "sdd,curated"
    elif case == "non-number":
        text = f["scores"].read_text(encoding="utf-8").splitlines()
        rows = list(csv.reader(text))
        rows[3][rows[0].index("cr")] = "high"
        f["scores"] = tmp_path / "bad.csv"
        with open(f["scores"], "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(rows)
    out_dir = tmp_path / "out"
    rc = main(["erc", "--manifest", str(f["manifest"]), "--embeddings", str(f["embeddings"]),
               "--scores", str(f["scores"]), "--columns", columns, "--fmr", fmr,
               "--out", str(out_dir), "-q"])
    assert rc == 2
    line = one_error_line(capsys)
    assert expected in line
    if case == "non-number":
        assert "line 4" in line
    assert not out_dir.exists()


def test_unknown_column_of_a_project(sample_project, tmp_path, capsys):
    assert main(["erc", str(sample_project), "--columns", "quality,bogus",
                 "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "unknown label source 'bogus'" in one_error_line(capsys)


def test_real_subprocess(sample_project, tmp_path):
    out = tmp_path / "erc"
    p = subprocess.run([sys.executable, "-m", "fiqa_gui", "erc", str(sample_project),
                        "--columns", "quality,sdd", "--fmr", "1e-2", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "quality" in p.stdout and "AUC" in p.stdout
    assert sorted(x.name for x in out.iterdir() if not x.name.startswith(".")) == \
        ["auc.json", "curves.csv", "erc.png"]
    bad = subprocess.run([sys.executable, "-m", "fiqa_gui", "erc", str(sample_project),
                          "--columns", "quality", "--fmr", "1e-12", "--out",
                          str(tmp_path / "x")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "cannot be resolved" in bad.stderr
