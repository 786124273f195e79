"""The command line: `init` and `info` end to end; bad input exits 2 with one line, no traceback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fiqa_gui.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fiqa_gui", *args], capture_output=True,
                          text=True, timeout=120)


def test_init_manifest_then_info(small_data, tmp_path, capsys):
    proj = tmp_path / "proj"
    rc = main(["init", str(proj), "--manifest", str(small_data["manifest"]),
               "--embeddings", str(small_data["embeddings"]), "-q"])
    assert rc == 0
    out = capsys.readouterr()
    assert "images      9" in out.out and "clusters    4" in out.out
    assert "warning: 1 cluster(s) hold a single image" in out.err
    assert main(["info", str(proj)]) == 0
    assert "embeddings  9×16 float32" in capsys.readouterr().out


def test_init_image_folder(small_data, tmp_path, capsys):
    assert main(["init", str(tmp_path / "p"), "--images", str(small_data["image_root"]),
                 "-q"]) == 0
    assert "images      9" in capsys.readouterr().out


def test_bad_input_exits_2_in_a_real_process(small_data, tmp_path):
    emb = small_data["emb"].copy()
    emb[4] = np.nan
    np.save(small_data["embeddings"], emb)
    r = run_cli("init", str(tmp_path / "p"), "--manifest", str(small_data["manifest"]),
                "--embeddings", str(small_data["embeddings"]), "-q")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fiqa-gui: error:")]
    assert len(lines) == 1 and "emb.npy" in lines[0] and "numpy row 4" in lines[0]
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("mutate,expect", [
    (lambda d: (d["root"] / "img/alice/1.png").unlink(), "line 3"),
    (lambda d: d["manifest"].write_bytes(b"path,cluster\n\xff\xfe,a\n"), "UTF-8"),
    (lambda d: d["manifest"].write_text("path,cluster\nimg/alice/0.png,\n"), "'cluster' cell"),
    (lambda d: d["manifest"].write_text("file,cluster\nimg/alice/0.png,a\n"), "'path' is miss"),
])
def test_init_bad_manifest_exit_2(small_data, tmp_path, capsys, mutate, expect):
    mutate(small_data)
    rc = main(["init", str(tmp_path / "p"), "--manifest", str(small_data["manifest"]), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and expect in err and "manifest.csv" in err


def test_info_on_missing_project_exits_2(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    assert "not a FIQA Curator project" in capsys.readouterr().err


def test_argparse_errors_exit_2():
    r = run_cli("init")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_demo_project_is_created_and_reopens_intact(tmp_path):
    from fiqa_gui.core.demo.project import ensure_demo_project
    from fiqa_gui.core.store import Project

    folder = ensure_demo_project(tmp_path / "demo", n_clusters=12)
    with Project.open(folder) as p:
        ds = p.dataset()
        assert len(ds) > 100 and len(ds.cluster_names) == 12
        assert {"scenario", "true_quality", "degradation"} <= set(ds.attributes)
        assert p.embeddings().shape == (len(ds), 512)
        assert all(ds.absolute_path(i).is_file() for i in range(0, len(ds), 17))
        stamp = (folder / "project.sqlite").stat().st_mtime_ns
    assert ensure_demo_project(tmp_path / "demo", n_clusters=12) == folder  # reused, not redone
    assert (folder / "project.sqlite").stat().st_mtime_ns == stamp
