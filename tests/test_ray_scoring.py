"""`score --ray`: SDD and CR sharded over a local 2-worker Ray cluster give the one-process
labels; a worker that dies is retried; bad set-ups are one clear line, exit 2."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from fiqa_gui.cli import main
from fiqa_gui.core.export.score_table import read_scores_csv
from fiqa_gui.core.scoring.distributed import FAULT_ENV, balanced_shards

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")

COLUMNS = ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "quality")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Long-tailed clusters (one above sdd.BLOCK_MAX, so every chunk kind is sharded),
    shuffled rows, planted intruders; manifest + .npy."""
    root = tmp_path_factory.mktemp("raydata")
    rng = np.random.default_rng(7)
    sizes = np.concatenate([rng.integers(1, 30, 260), [600]])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(labels)
    centres = rng.normal(size=(len(sizes), 48))
    x = centres[labels] + rng.normal(size=(len(labels), 48)) * rng.uniform(0.3, 1.6,
                                                                            (len(labels), 1))
    intruders = rng.choice(len(labels), 25, replace=False)
    x[intruders] = centres[(labels[intruders] + 1) % len(sizes)]
    np.save(root / "emb.npy", x.astype(np.float32))
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "cluster"])
        for i, c in enumerate(labels):
            w.writerow([f"img/{c}/{i}.jpg", f"id{c:03d}"])
    return root


def _score(data, out, *extra) -> int:
    return main(["score", "--manifest", str(data / "manifest.csv"), "--embeddings",
                 str(data / "emb.npy"), "--out", str(out), "--no-image-cues", "-q", *extra])


def _table(path):
    return read_scores_csv(path)


def _floats(cells) -> np.ndarray:
    return np.array([float(c) if c != "" else np.nan for c in cells])


def test_two_ray_workers_equal_one_process_even_when_a_worker_dies(data, tmp_path,
                                                                   monkeypatch):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert _score(data, one) == 0
    marker = tmp_path / "fault"
    marker.mkdir()
    monkeypatch.setenv(FAULT_ENV, f"once:{marker}")  # the first task attempt kills its worker
    assert _score(data, two, "--ray", "local", "--ray-workers", "2") == 0
    assert (marker / "killed").exists()  # a worker really died, and the task was retried
    a, b = _table(one), _table(two)
    assert len(a["path"]) == len(b["path"]) == sum(1 for _ in open(data / "manifest.csv")) - 1
    assert a["path"] == b["path"]
    for col in COLUMNS:
        u, v = _floats(a[col]), _floats(b[col])
        assert np.array_equal(np.isnan(u), np.isnan(v)), col
        ok = ~np.isnan(u)
        assert np.abs(u[ok] - v[ok]).max() <= 1e-6, col
    assert a["flags"] == b["flags"]
    assert any("identity_suspect" in f for f in a["flags"])  # the flags compared are not empty


def test_a_worker_that_always_dies_is_exit_2_and_nothing_written(data, tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.setenv(FAULT_ENV, "always")
    out = tmp_path / "never.csv"
    assert _score(data, out, "--ray", "local", "--ray-workers", "2", "--ray-retries", "1") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("a Ray worker failed on the SDD after 1 retry" in line for line in err)
    assert not out.exists()


def test_project_run_records_the_backend(sample_project):
    from fiqa_gui.core.store import Project

    assert main(["score", str(sample_project), "--no-image-cues", "--ray", "local", "-q",
                 "--ray-workers", "2", "--repeats", "3"]) == 0
    with Project.open(sample_project, read_only=True) as p:
        run = p.runs()[-1]
    assert run.params["backend"] == {"kind": "ray", "address": "local", "workers": 2,
                                     "gpus_per_worker": 0.0, "retries": 2}


@pytest.mark.parametrize(("argv", "needle"), [
    (["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
    (["--ray", "nowhere"], "is not HOST:PORT"),
    (["--ray-workers", "2"], "--ray-workers needs --ray"),
    (["--ray", "local", "--exact"], "--exact is not sharded"),
])
def test_bad_ray_setups_are_one_line_exit_2(data, tmp_path, capsys, argv, needle):
    out = tmp_path / "x.csv"
    assert _score(data, out, *argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and not out.exists()


def test_without_ray_installed_the_extra_is_named(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    assert _score(data, tmp_path / "x.csv", "--ray", "local") == 2
    assert "pip install 'fiqa-gui[ray]'" in capsys.readouterr().err


def test_balanced_shards_cover_every_chunk_once():
    sizes = np.array([5, 400, 3, 3, 3, 900, 10, 10])
    for k in (1, 2, 3, 8, 20):
        shards = balanced_shards(sizes, k)
        assert np.array_equal(np.concatenate(shards), np.arange(len(sizes)))
        assert 1 <= len(shards) <= k
    assert balanced_shards(np.zeros(0, np.int64), 4) == []


def test_erc_with_sampled_pairs_on_ray_equals_one_process(data, tmp_path):
    import json

    scores = tmp_path / "scores.csv"
    assert _score(data, scores) == 0
    common = ["erc", "--manifest", str(data / "manifest.csv"), "--embeddings",
              str(data / "emb.npy"), "--scores", str(scores), "--columns", "quality,sdd,cr",
              "--max-pairs", "200000", "--fmr", "1e-3", "-q"]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    assert main([*common, "--out", str(tmp_path / "ray"), "--ray", "local",
                 "--ray-workers", "2"]) == 0
    one = json.loads((tmp_path / "one" / "auc.json").read_text(encoding="utf-8"))
    two = json.loads((tmp_path / "ray" / "auc.json").read_text(encoding="utf-8"))
    assert one[0]["impostor_pairs"] < 10_000_000  # sampled: the sharded path was taken
    assert one == two
    assert (tmp_path / "one" / "curves.csv").read_bytes() == \
        (tmp_path / "ray" / "curves.csv").read_bytes()


def test_the_nnccs_index_travels_to_the_workers(monkeypatch):
    """`--nnccs approx` on Ray: the driver trains and checks the index once, every worker
    searches with that same index — the labels equal the one-process ones. The rows are an
    in-memory array (not a .npy path): they reach the workers through the object store."""
    from fiqa_gui.core.scoring import nnccs_search
    from fiqa_gui.core.scoring.cr import cr_scores
    from fiqa_gui.core.scoring.distributed import RayBackend, RayOptions

    sys.path.insert(0, str(Path(__file__).parent))
    from test_nnccs_search import grouped

    monkeypatch.setattr(nnccs_search, "MIN_CENTRES", 64)
    monkeypatch.setattr(nnccs_search, "AUTO_MIN_WORK", 0)
    x, labels = grouped(12000, 600, seed=9)
    local = cr_scores(x, labels, nnccs="approx")
    assert local.params["nnccs_search"]["used"] == "ivf"
    backend = RayBackend(RayOptions(address="local", workers=2, gpus_per_worker=0.0,
                                    retries=0))
    try:
        sharded = backend.cr_scores(x, labels, nnccs="approx")
    finally:
        backend.shutdown()
    assert sharded.params["nnccs_search"] == local.params["nnccs_search"]
    np.testing.assert_array_equal(sharded.nn_cluster, local.nn_cluster)
    np.testing.assert_allclose(sharded.cr, local.cr, atol=1e-6, rtol=0)
