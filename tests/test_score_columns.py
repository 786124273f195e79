"""A run's score columns stored as arrays beside the rows (issue 12): they load as arrays, equal
the rows; a project written before them (rows only) still opens and gains them; a stale or
damaged file is never believed. And the window's per-cluster reads (seed preview, sub-cluster
sizes) equal the dataset-wide ones they replace."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fiqa_gui.core.store import Project
from fiqa_gui.core.store.project import SCORE_COLUMNS
from tests.test_store import project  # noqa: F401 - the small project fixture


def add_run(p: Project) -> int:
    n = p.image_count()
    sdd = np.linspace(0, 100, n)
    sdd[1] = np.nan
    return p.add_run("score", {"seed": 1},
                     {"sdd": sdd, "cr": np.full(n, 0.25), "quality": np.arange(n) / n},
                     [["identity_suspect"] if i % 3 == 0 else ["a", "b"] if i == 1 else []
                      for i in range(n)],
                     device="cpu", seed=1, extra={"sharpness": np.arange(n, dtype=float)})


def same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        if k == "flags":
            assert a[k] == b[k]
        else:
            assert np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True), k


def test_arrays_round_trip_and_equal_the_rows(project):  # noqa: F811
    run = add_run(project)
    path = project.score_arrays_path(run)
    assert path.is_file()
    got = project.scores(run)
    same(got, project._scores_from_rows(run))
    n = project.image_count()
    assert got["sdd"].dtype == np.float64 and np.isnan(got["sdd"][1])
    assert np.isnan(got["iq"]).all() and set(SCORE_COLUMNS) <= set(got)
    assert got["flags"][0] == ["identity_suspect"] and got["flags"][1] == ["a", "b"]
    assert got["flags"][2] == [] and np.array_equal(got["sharpness"], np.arange(n))
    got["flags"][2].append("x")  # every image has a list of its own
    assert got["flags"][5] == []
    folder = project.folder
    project.close()
    with Project.open(folder, read_only=True) as p:  # read-only reads the arrays too
        same(p.scores(run), got | {"flags": p._scores_from_rows(run)["flags"]})


def test_a_project_without_arrays_reads_its_rows_and_gains_them(project):  # noqa: F811
    run = add_run(project)
    want = project._scores_from_rows(run)
    path = project.score_arrays_path(run)
    path.unlink()  # as written before the arrays existed
    folder = project.folder
    project.close()
    with Project.open(folder, read_only=True) as p:
        same(p.scores(run), want)
    assert not path.exists()  # read-only: nothing written
    with Project.open(folder) as p:
        same(p.scores(run), want)
        assert path.is_file()  # migrated on first read
        same(p._read_score_arrays(run), want)


def test_stale_or_damaged_arrays_are_not_believed(project):  # noqa: F811
    first = add_run(project)
    second = add_run(project)
    want = project._scores_from_rows(second)
    # another run's file under this run's name (a database restored from a backup, say)
    shutil.copy(project.score_arrays_path(first), project.score_arrays_path(second))
    assert project._read_score_arrays(second) is None
    same(project.scores(second), want)
    project.score_arrays_path(second).write_bytes(b"not a zip")
    assert project._read_score_arrays(second) is None
    same(project.scores(second), want)
    assert project._read_score_arrays(second) is not None  # rewritten from the rows


def test_the_v1_fixture_project_still_opens_with_its_scores(tmp_path):
    from pathlib import Path

    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(Path(__file__).parent / "fixtures" / "project_v1.sqlite",
                folder / "project.sqlite")
    with Project.open(folder) as p:
        [run] = p.runs()
        assert np.allclose(p.scores(run.id)["sdd"], np.arange(12) * 5.0)
        assert p.score_arrays_path(run.id).is_file()
        assert np.allclose(p.scores(run.id)["sdd"], np.arange(12) * 5.0)


def test_reader_of_is_a_read_only_second_handle(project):  # noqa: F811
    add_run(project)
    reader = Project.reader_of(project.folder)
    try:
        assert reader.read_only and reader.image_count() == project.image_count()
        with pytest.raises(Exception, match="readonly"):
            reader.conn.execute("DELETE FROM meta")
    finally:
        reader.close()


# ----------------------------------------------------------------------------- per-cluster reads
def test_cluster_seed_preview_equals_propose_seeds(sample_project):
    from fiqa_gui.core.review.review_data import load_review, preview_cluster_seeds
    from fiqa_gui.core.seedsets.clustering import cluster_command
    from fiqa_gui.core.seedsets.sampling import SamplingParams, propose_seeds

    rv = load_review(sample_project)
    try:
        p = rv.project
        # a curator's marks change the strata: an unusable image, a rejected seed
        first = rv.index.members(0)
        p.conn.execute("INSERT INTO annotations(image_id, tier) VALUES (?, 'unusable')",
                       (int(first[0]),))
        p.conn.execute("INSERT OR REPLACE INTO annotations(image_id, seed_state) VALUES (?, ?)",
                       (int(first[1]), "rejected"))
        for params in (SamplingParams(), SamplingParams(subcluster_level=None)):
            for c in range(len(rv.summaries)):
                db = int(rv.cluster_db_ids[c])
                a = preview_cluster_seeds(rv, c, params)
                b = propose_seeds(p, params=params, cluster_ids=[db])
                assert a.picks == b.picks and a.kept == b.kept and a.strata == b.strata
                assert a.coverage == b.coverage and a.params == b.params
        cluster_command(p, [0.5, 0.8], within_clusters=True)
        for c in range(len(rv.summaries)):
            db = int(rv.cluster_db_ids[c])
            a = preview_cluster_seeds(rv, c, SamplingParams())
            b = propose_seeds(p, params=SamplingParams(), cluster_ids=[db])
            assert a.picks == b.picks and a.coverage == b.coverage and a.params == b.params
    finally:
        rv.close()


def test_subcluster_labels_equal_load_level(sample_project):
    from fiqa_gui.core.errors import UserInputError
    from fiqa_gui.core.review.review_data import load_review, subcluster_labels
    from fiqa_gui.core.seedsets.clustering import cluster_command, load_level, load_levels

    rv = load_review(sample_project)
    try:
        run = cluster_command(rv.project, [0.5, 0.8], within_clusters=True).run_id
        for level, _t in load_levels(rv.project, run):
            full = load_level(rv.project, run, level)
            for c in range(len(rv.summaries)):
                ids = rv.index.members(c)
                assert np.array_equal(subcluster_labels(rv.project, run, level, ids), full[ids])
        with pytest.raises(UserInputError, match="no level"):
            subcluster_labels(rv.project, run, 99, rv.index.members(0))
    finally:
        rv.close()


def test_present_image_flags_and_gallery_rows_after_switches(qtbot, window_factory,
                                                             sample_project):
    from fiqa_gui.core.review.clusters import image_flags

    w = window_factory(sample_project)
    rv = w.review
    want = set().union(*(image_flags(f) for f in rv.scores["flags"]))
    assert rv.present_image_flags() == want
    a, b = rv.index.members(0), rv.index.members(1)
    assert w.clusters.select_cluster(0)
    assert all(w.gallery.model.row_of(int(i)) >= 0 for i in a)
    assert w.clusters.select_cluster(1)
    assert all(w.gallery.model.row_of(int(i)) == -1 for i in a)
    assert sorted(w.gallery.model.row_of(int(i)) for i in b) == list(range(len(b)))
