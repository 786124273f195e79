"""The flywheel: import labels, learn from them, the review queue, the exported model."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from fiqa_gui.cli import main
from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.curation.import_labels import import_labels, read_label_table
from fiqa_gui.core.demo.project import ensure_demo_project
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.labels.project_scoring import project_labels
from fiqa_gui.core.learning.features import raw_features, scalar_features
from fiqa_gui.core.learning.learn import export_model, learn_project
from fiqa_gui.core.learning.model import fit_ridge
from fiqa_gui.core.learning.review_next import learning_history, review_queue
from fiqa_gui.core.store import Project


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    return ensure_demo_project(tmp_path_factory.mktemp("demo") / "d", n_clusters=60)


@pytest.fixture
def folder(demo_folder, tmp_path):
    dst = tmp_path / "p"
    shutil.copytree(demo_folder, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def _true_quality(project) -> np.ndarray:
    return np.array([float(v) for v in project.dataset().attributes["true_quality"]])


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _label_third(project, tmp_path, mode: str = "tier"):
    """A simulated curator: tiers at the dataset's terciles of the true quality, for every
    image of a third of the clusters (abs paths); returns the labelled cluster indices."""
    ds = project.dataset()
    labels = project_labels(project).labels
    tq = _true_quality(project)
    picked = np.random.default_rng(0).choice(labels.max() + 1, (labels.max() + 1) // 3,
                                             replace=False)
    lo, hi = np.quantile(tq, [1 / 3, 2 / 3])
    rows = []
    for i in np.flatnonzero(np.isin(labels, picked)):
        v = ("high" if tq[i] >= hi else "mid" if tq[i] >= lo else "low") if mode == "tier" \
            else f"{tq[i]:.2f}"
        rows.append([str(ds.absolute_path(int(i))), v])
    csv_path = _write(tmp_path / "labels.csv", ["path", "tier" if mode == "tier" else "score"],
                      rows)
    import_labels(project, csv_path)
    return picked


# ------------------------------------------------------------------------------ import-labels
def test_import_labels_sets_every_field_in_one_undoable_audited_action(folder, tmp_path):
    with Project.open(folder) as p:
        ds = p.dataset()
        # relative to the CSV's folder, absolute, and spelled as the project stores it
        rel = ds.absolute_path(0).relative_to(tmp_path, walk_up=True) \
            if sys.version_info >= (3, 12) else None
        rows = [[str(ds.absolute_path(1)), "high", "", "approved", ""],
                [ds.paths[2], "", "42.5", "", "true"],
                [str(ds.absolute_path(3)), "LOW", "", "rejected", "no"]]
        if rel is not None:
            rows.append([str(rel), "mid", "", "", ""])
        csv_path = _write(tmp_path / "l.csv", ["path", "tier", "score", "seed", "wrong_identity"],
                          rows)
        cur.set_tier(p, [1], "low").apply(p)
        before = cur.read_annotations(p)
        audit_before = len(p.audit_log())
        command = import_labels(p, csv_path)
        a = cur.read_annotations(p)
        assert a[1]["tier"] == "high" and a[1]["seed_state"] == "approved"
        assert a[2]["corrected_score"] == 42.5 and a[2]["wrong_identity"] == 1
        assert a[3]["tier"] == "low" and a[3]["seed_state"] == "rejected"
        assert "wrong_identity" not in a[3]
        if rel is not None:
            assert a[0]["tier"] == "mid"
        log = p.audit_log()
        assert len(log) == audit_before + 1 and "import_labels" in str(log[-1])
        command.revert(p)
        assert cur.read_annotations(p) == before  # tier 'low' on image 1 is back


@pytest.mark.parametrize(("rows", "needle"), [
    ([["nope.jpg", "high"]], "line 2: no image of the project has the path 'nope.jpg'"),
    ([["{0}", "hgh"]], "line 2: tier 'hgh'"),
    ([["{0}", "high"], ["{0}", "low"]], "line 3: "),
    ([["{0}", "high", "extra"]], "line 2: 3 fields"),
])
def test_import_labels_bad_lines_exit_2_naming_them_and_change_nothing(folder, tmp_path, capsys,
                                                                       rows, needle):
    with Project.open(folder) as p:
        first = str(p.dataset().absolute_path(0))
        audit = len(p.audit_log())
    csv_path = _write(tmp_path / "bad.csv", ["path", "tier"],
                      [[c.format(first) for c in r] for r in rows])
    assert main(["import-labels", str(folder), str(csv_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "nothing imported" in err
    with Project.open(folder) as p:
        assert len(p.audit_log()) == audit and cur.read_annotations(p) == {}


@pytest.mark.parametrize(("header", "cells", "needle"), [
    (["file", "tier"], ["x", "high"], "column 'path' is missing"),
    (["path", "grade"], ["x", "high"], "no label column"),
    (["path", "score"], ["{0}", "101"], "outside 0–100"),
    (["path", "seed"], ["{0}", "proposed"], "seed 'proposed'"),
    (["path", "wrong_identity"], ["{0}", "maybe"], "not true or false"),
])
def test_import_labels_bad_header_or_values(folder, tmp_path, header, cells, needle):
    with Project.open(folder) as p:
        first = str(p.dataset().absolute_path(0))
        path = _write(tmp_path / "bad.csv", header, [[c.format(first) for c in cells]])
        with pytest.raises(UserInputError, match=needle):
            read_label_table(p, path)


# ------------------------------------------------------------------------------ learn
def test_ridge_matches_the_normal_equations_in_both_forms():
    rng = np.random.default_rng(0)
    for n, f in ((40, 120), (300, 20)):  # dual and primal
        z, y, w = rng.standard_normal((n, f)), rng.uniform(0, 100, n), rng.uniform(.5, 1, n)
        coef, b = fit_ridge(z, y, w, 3.0)
        sw = w / w.sum()
        zc = z - sw @ z
        ref = np.linalg.solve((zc * w[:, None]).T @ zc + 3.0 * np.eye(f),
                              (zc * w[:, None]).T @ (y - sw @ y))
        np.testing.assert_allclose(coef, ref, atol=1e-8)
        assert abs(b - (sw @ y - (sw @ z) @ ref)) < 1e-8


def test_learn_ranks_unlabelled_clusters_better_than_quality_and_reopens(folder, tmp_path):
    with Project.open(folder) as p:
        picked = _label_third(p, tmp_path)
        result = learn_project(p, seed=0)
        labels = project_labels(p).labels
        s = p.scores(result.run_id)
        run = p.runs()[-1]
        assert run.kind == "learn" and run.params["learn"]["labels"] == result.summary["labels"]
        v = result.summary["validation"]
        assert v["split"].startswith("by cluster") and 0 < v["mae"] < 30
        tq = _true_quality(p)
        from scipy.stats import spearmanr

        def within(col):
            vals = np.asarray(s[col], dtype=float)
            rhos = [spearmanr(vals[m], tq[m])[0] for c in set(labels.tolist()) - set(picked)
                    if len(m := np.flatnonzero(labels == c)) >= 3 and np.ptp(tq[m]) > 0
                    and np.isfinite(vals[m]).all()]
            return float(np.mean(rhos))

        assert within("learned") > within("quality") + 0.03
        erc = result.summary["erc"]
        assert erc["scope"] == "unlabelled clusters" and set(erc["auc"]) >= {"learned",
                                                                             "quality"}
    with Project.open(folder, read_only=True) as p:  # the turn reopens with the project
        again = p.scores(result.run_id)
        np.testing.assert_allclose(again["learned"], s["learned"], atol=1e-6)
        assert learning_history(p)[-1]["labels"] == result.summary["labels"]


def test_same_seed_same_learned_and_queue_skips_curated(folder, tmp_path):
    with Project.open(folder) as p:
        _label_third(p, tmp_path, mode="score")
        a = learn_project(p, seed=3)
        b = learn_project(p, seed=3)
        np.testing.assert_array_equal(a.learned, b.learned)
        queue = review_queue(p, limit=30, per_cluster=2)
        curated = set(cur.read_annotations(p))
        ids = [q.image_id for q in queue]
        assert ids and not curated & set(ids)
        clusters = p.image_cluster_ids()[ids]
        assert max(np.bincount(clusters)) <= 2
        pr = [q.priority for q in queue]
        assert pr == sorted(pr, reverse=True)


def test_too_few_labels_is_a_clear_error(folder):
    with Project.open(folder) as p:
        cur.set_tier(p, [0, 1, 2], "high").apply(p)
        with pytest.raises(UserInputError, match="too few curator labels"):
            learn_project(p)


def test_exported_torchscript_reproduces_the_model(folder, tmp_path):
    with Project.open(folder) as p:
        _label_third(p, tmp_path)
        result = learn_project(p, seed=0)
        paths = export_model(result, tmp_path / "model")
        scalars, _ = scalar_features(project_labels(p).labels, p.scores(result.base_run_id))
        rows = np.arange(0, p.image_count(), 7)
        raw = raw_features(scalars, p.embeddings(), rows)
        stored = np.asarray(p.scores(result.run_id)["learned_strength"], dtype=float)[rows]
    module = torch.jit.load(str(paths[0]))
    mean, spread = module(torch.from_numpy(raw))
    np.testing.assert_allclose(mean.numpy(), stored, atol=1e-6)
    assert mean.shape == (len(rows),) and (spread.numpy() >= 0).all()
    assert paths[1].read_text().count("embedding_0") >= 1


def test_cli_learn_writes_the_table_with_learned_and_refuses_project_files(folder, tmp_path,
                                                                           capsys):
    with Project.open(folder) as p:
        _label_third(p, tmp_path)
    out = tmp_path / "scores.csv"
    assert main(["learn", str(folder), "-q", "--out", str(out), "--queue", "3"]) == 0
    printed = capsys.readouterr().out
    assert "validation by cluster" in printed and "review next (3)" in printed
    with open(out, newline="") as f:
        header = next(csv.reader(f))
    assert "learned" in header and "learned_uncertainty" in header
    with Project.open(folder, read_only=True) as p:
        runs = len(p.runs())
    assert main(["learn", str(folder), "-q", "--out", str(folder / "project.sqlite"),
                 "--force"]) == 2
    with Project.open(folder, read_only=True) as p:
        assert len(p.runs()) == runs  # refused before any work
    r = subprocess.run([sys.executable, "-m", "fiqa_gui", "learn", str(tmp_path / "none")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_cli_learn_refuses_a_bad_model_folder_before_training(folder, tmp_path, capsys):
    with Project.open(folder) as p:
        _label_third(p, tmp_path)
        runs = len(p.runs())
    a_file = tmp_path / "labels.csv"
    assert main(["learn", str(folder), "-q", "--export-model", str(a_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model folder is an existing file" in err
    with Project.open(folder, read_only=True) as p:
        assert len(p.runs()) == runs


def test_export_labels_from_learned(folder, tmp_path, capsys):
    from fiqa_gui.core.export.project_export import TIER_LABELS, read_labels

    out = tmp_path / "labels.txt"
    # no learn run yet: refused before anything is written, one line, exit 2
    assert main(["export", str(folder), "--labels", str(out), "--label-source", "learned",
                 "-q"]) == 2
    err = capsys.readouterr().err
    assert "no learn run" in err and "fiqa-gui learn" in err and not out.exists()
    with Project.open(folder) as p:
        _label_third(p, tmp_path)
        res = learn_project(p, seed=0)
        ds = p.dataset()
        tiers = dict(p.conn.execute("SELECT image_id, tier FROM annotations "
                                    "WHERE tier IS NOT NULL").fetchall())
    assert main(["export", str(folder), "--labels", str(out), "--label-source", "learned",
                 "-q"]) == 0
    got = dict(read_labels(out))
    for i in range(len(ds)):
        value = got[str(ds.absolute_path(i))]
        if i in tiers:  # the curator's label comes first
            assert value == TIER_LABELS[tiers[i]]
        else:  # then the model trained on those labels, exactly
            assert value == res.learned[i]
    # the default stays quality: the two files differ where learned and quality differ
    plain = tmp_path / "plain.txt"
    assert main(["export", str(folder), "--labels", str(plain), "-q"]) == 0
    assert dict(read_labels(plain)) != got
    # a scoring run has no learned column
    assert main(["export", str(folder), "--labels", str(tmp_path / "x.txt"), "--run",
                 str(res.base_run_id), "--label-source", "learned", "-q"]) == 2
    assert "no learned column" in capsys.readouterr().err
