"""Exports: formats parse back to the store's content; the label rule; ImageFolder trees by
copy/hardlink/symlink; odd and hostile names stay inside the output; interrupted exports leave
nothing behind; overwriting needs force."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from fiqa_gui.core import atomic_output as ao
from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.curation import seeds as sd
from fiqa_gui.core.errors import Cancelled, UserInputError
from fiqa_gui.core.export import project_export as ex
from fiqa_gui.core.progress import CancelToken
from fiqa_gui.core.seedsets import sampling as sm
from fiqa_gui.core.store import Project
from fiqa_gui.core.store.seed_queries import approved_seeds
from tests.test_sampling import build_project


def approve_all(p: Project) -> None:
    sd.ProposeSeeds(p, sm.propose_seeds(p)).apply(p)
    sd.approve_seed_set(p, [r[0] for r in p.clusters()], pending="approve").apply(p)


@pytest.fixture
def proj(tmp_path):
    folder, info = build_project(tmp_path, files=True)
    with Project.open(folder) as p:
        approve_all(p)
        cur.set_corrected_score(p, [approved_seeds(p)[0][0]], 42.5).apply(p)
        cur.set_tier(p, [approved_seeds(p)[1][0]], "low").apply(p)
        cur.set_note(p, [approved_seeds(p)[1][1]], 'odd, "quoted"\nnote').apply(p)
        yield p, info


def listing(folder: Path) -> set[str]:
    return {str(q.relative_to(folder)) for q in folder.rglob("*")}


def test_csv_and_jsonl_parse_back_to_the_store(proj, tmp_path):
    p, info = proj
    out = tmp_path / "out"
    r1 = ex.export_seeds_csv(p, out / "seeds.csv")
    r2 = ex.export_seeds_jsonl(p, out / "seeds.jsonl")
    seeds = sorted(i for ids in approved_seeds(p).values() for i in ids)
    assert r1.rows == r2.rows == len(seeds)
    with open(out / "seeds.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(out / "seeds.jsonl", encoding="utf-8") as f:
        objs = [json.loads(line) for line in f]
    run = sm.latest_score_run(p)
    scores = p.scores(run)
    ann = cur.read_annotations(p)
    tiers, _ = sm.image_tiers(p)
    names = {cid: name for cid, name, _, _ in p.clusters()}
    assert [int(r["image_id"]) for r in rows] == [o["image_id"] for o in objs] == seeds
    for r, o in zip(rows, objs, strict=True):
        i = o["image_id"]
        assert r["path"] == o["path"] == info["paths"][i]
        assert o["abs_path"] == str(info["root"] / info["paths"][i])
        assert r["cluster"] == o["cluster"] == names[int(info["clusters"][i])]
        assert r["seed_state"] == o["seed_state"] == "approved"
        assert o["seed_set_state"] == "approved" and int(r["score_run_id"]) == run
        for col in ("sdd", "cr", "quality"):
            assert float(r[col]) == o["scores"][col] == scores[col][i]
        assert r["sdd_signed"] == "" and o["scores"]["sdd_signed"] is None
        for a in ("pose", "source"):
            assert r[f"attr:{a}"] == o["attributes"][a] == info["attrs"][a][i]
        a = ann.get(i, {})
        label, source = ex.corrected_label(a.get("corrected_score"), a.get("tier"),
                                           scores["quality"][i], scores["sdd"][i])
        assert o["corrected_label"] == label and float(r["corrected_label"]) == label
        assert r["label_source"] == o["label_source"] == source
        assert r["tier"] == o["tier"] == tiers[i]
        assert r["note"] == o["note"] == a.get("note", "")
    assert {o["label_source"] for o in objs} >= {"corrected_score", "tier", "quality"}


def test_wrong_identity_seeds_leave_the_seed_exports(proj, tmp_path):
    p, _ = proj
    seeds = sorted(i for ids in approved_seeds(p).values() for i in ids)
    cur.mark_wrong_identity(p, [seeds[0]]).apply(p)
    assert seeds[0] not in {i for ids in approved_seeds(p).values() for i in ids}
    rep = ex.export_seeds_jsonl(p, tmp_path / "a.jsonl")
    assert rep.rows == len(seeds) - 1
    rep = ex.export_seeds_jsonl(p, tmp_path / "b.jsonl", include="all")
    with open(tmp_path / "b.jsonl", encoding="utf-8") as f:
        flagged = [json.loads(x) for x in f if json.loads(x)["image_id"] == seeds[0]]
    assert flagged and flagged[0]["wrong_identity"] is True


def test_label_file_rule_exclusions_and_parse_back(proj, tmp_path):
    p, info = proj
    n = p.image_count()
    cur.mark_wrong_identity(p, [1]).apply(p)
    cur.set_tier(p, [2], "unusable").apply(p)
    cur.set_corrected_score(p, [3], 99.0).apply(p)
    p.conn.execute("UPDATE images SET unreadable = 1 WHERE id = 4")
    rep = ex.export_labels(p, tmp_path / "labels.txt")
    got = dict(ex.read_labels(tmp_path / "labels.txt"))
    assert rep.rows == len(got) == n - 2 and rep.skipped == 2
    path = {i: str(info["root"] / info["paths"][i]) for i in range(n)}
    assert path[1] not in got and path[4] not in got
    assert got[path[2]] == 0.0 and got[path[3]] == 99.0
    assert got[path[0]] == info["quality"][0]  # exact: labels are written round-trip
    rel = ex.export_labels(p, tmp_path / "rel.txt", paths="relative", include_wrong_identity=True)
    assert rel.rows == n - 1
    assert dict(ex.read_labels(tmp_path / "rel.txt"))[info["paths"][1]] == info["quality"][1]


def test_labels_fall_back_to_sdd_and_refuse_whitespace_paths(tmp_path):
    paths = [f"c{c}/img {i}.jpg" if i == 2 else f"c{c}/img{i}.jpg"
             for i, c in enumerate([0] * 14 + [1] * 12 + [2] * 9 + [3] * 3)]
    folder, info = build_project(tmp_path, quality=False, paths=paths)
    with Project.open(folder) as p:
        with pytest.raises(UserInputError, match="whitespace"):
            ex.export_labels(p, tmp_path / "l.txt")
        assert not (tmp_path / "l.txt").exists()
        rep = ex.export_labels(p, tmp_path / "l.txt", on_whitespace="skip")
        got = ex.read_labels(tmp_path / "l.txt")
        assert rep.rows == len(got) == len(paths) - 1
        assert dict(got)[str(info["root"] / paths[0])] == info["sdd"][0]


@pytest.mark.parametrize("mode", ex.LINK_MODES)
def test_tree_export_parses_back(proj, tmp_path, mode):
    p, info = proj
    out = tmp_path / "tree"
    rep = ex.export_tree(p, out, mode=mode)
    seeds = approved_seeds(p)
    assert rep.rows == sum(len(v) for v in seeds.values())
    with open(out / "index.csv", newline="", encoding="utf-8") as f:
        index = list(csv.DictReader(f))
    names = {cid: name for cid, name, _, _ in p.clusters()}
    assert sorted(d.name for d in out.iterdir() if d.is_dir()) == \
        sorted(names[c] for c in seeds)
    for row in index:
        i = int(row["image_id"])
        f = out / row["file"]
        assert f.parent.name == names[int(info["clusters"][i])]
        assert f.read_bytes() == f"image {i}".encode()
        if mode == "symlink":
            assert f.is_symlink()
        elif mode == "hardlink":
            assert os.stat(f).st_ino == os.stat(info["root"] / info["paths"][i]).st_ino
    assert (out / ao.MARKER).is_file()


HOSTILE = ["../escape", "/abs/olute", "a/b", "a\\b", "..", ".", "", " ", "CON", "nul.txt",
           "Alice", "alice", "x" * 300, "tab\there", "semi;colon:quote\"<>|?*", "ünï cödé",
           ".hidden", "trailing. "]


def test_hostile_cluster_names_and_paths_stay_inside_the_output(tmp_path):
    n = len(HOSTILE)
    sizes = (1,) * n
    outside = tmp_path / "elsewhere"
    paths = [f"{i}/../../{i}/img.jpg" if i % 3 == 0 else
             str(outside / f"abs{i}" / "same.jpg") if i % 3 == 1 else
             f"d{i}/..\\..\\evil{i}.jpg" for i in range(n)]
    folder, _ = build_project(tmp_path, sizes=sizes, names=HOSTILE, files=True, paths=paths)
    with Project.open(folder) as p:
        sd.add_seeds(p, range(n)).apply(p)
        before = listing(tmp_path)
        out = tmp_path / "exports" / "tree"
        rep = ex.export_tree(p, out, mode="symlink")
        assert rep.rows == n
        after = listing(tmp_path)
    new = after - before
    assert all(x.startswith("exports") for x in new), sorted(new)
    real_out = os.path.realpath(out)
    dirs = [d for d in out.iterdir() if d.is_dir()]
    assert len(dirs) == n  # one folder per cluster, all distinct (Alice / alice too)
    assert len({d.name.casefold() for d in dirs}) == n
    for f in out.rglob("*"):
        parent = os.path.realpath(f.parent)
        assert os.path.commonpath([real_out, parent]) == real_out
        assert f.name not in ("", ".", "..") and len(f.name.encode()) <= ao.MAX_NAME_BYTES
        assert "/" not in f.name and "\\" not in f.name
    with open(out / "index.csv", newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == n


def test_safe_name_examples():
    assert ao.safe_name("..") == "_" and ao.safe_name(".git") == "_git"
    assert ao.safe_name("") == "_" and ao.safe_name("   ") == "_"
    assert ao.safe_name("CON").startswith("_") and ao.safe_name("lpt1.txt") == "_lpt1.txt"
    assert ao.safe_name("a/b\\c") == "a_b_c"
    long = ao.safe_name("é" * 300 + ".jpeg")
    assert long.endswith(".jpeg") and len(long.encode()) <= ao.MAX_NAME_BYTES
    d = ao.NameDeduper()
    assert [d.unique(x) for x in ("a.jpg", "A.jpg", "a.jpg")] == ["a.jpg", "A~2.jpg", "a~3.jpg"]
    with pytest.raises(RuntimeError):
        ao.assert_inside("/tmp/x", "/tmp/x/../y")
    for bad in ("..", "a/b", "a\\b", ""):
        with pytest.raises(RuntimeError):
            ao.assert_plain_name(bad)


EXPORTS = {
    "csv": lambda p, out, **kw: ex.export_seeds_csv(p, out / "s.csv", **kw),
    "jsonl": lambda p, out, **kw: ex.export_seeds_jsonl(p, out / "s.jsonl", **kw),
    "tree": lambda p, out, **kw: ex.export_tree(p, out / "tree", **kw),
    "labels": lambda p, out, **kw: ex.export_labels(p, out / "l.txt", **kw),
    "audit": lambda p, out, **kw: ex.export_audit(p, out / "a.csv", **kw),
}


@pytest.mark.parametrize("kind", EXPORTS)
def test_interrupted_export_leaves_no_partial_output(proj, tmp_path, kind):
    p, _ = proj
    out = tmp_path / "out"
    out.mkdir()

    def boom(done, total, stage):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        EXPORTS[kind](p, out, progress=boom)
    assert list(out.iterdir()) == []
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        EXPORTS[kind](p, out, cancel=token)
    assert list(out.iterdir()) == []
    # an interrupted --force run keeps the previous output intact
    EXPORTS[kind](p, out)
    first = listing(out)
    with pytest.raises(RuntimeError):
        EXPORTS[kind](p, out, progress=boom, force=True)
    assert listing(out) == first


@pytest.mark.parametrize("kind", EXPORTS)
def test_refuses_to_overwrite_without_force(proj, tmp_path, kind):
    p, _ = proj
    out = tmp_path / "out"
    EXPORTS[kind](p, out)
    with pytest.raises(UserInputError, match="--force") as err:
        EXPORTS[kind](p, out)
    assert str(out) in str(err.value)
    rep = EXPORTS[kind](p, out, force=True)
    assert rep.rows > 0
    assert sorted(x.name for x in out.iterdir()) == [rep.path.name]


def test_force_never_replaces_a_foreign_folder(proj, tmp_path):
    p, _ = proj
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "photo.jpg").write_bytes(b"keep me")
    with pytest.raises(UserInputError, match="not written by"):
        ex.export_tree(p, precious, force=True)
    assert (precious / "photo.jpg").read_bytes() == b"keep me"
    with pytest.raises(UserInputError, match="folder"):
        ex.export_seeds_csv(p, precious, force=True)
    for data in (precious / "photo.jpg", p.folder / "project.sqlite", p.embeddings_path()):
        with pytest.raises(UserInputError, match="data file|part of the project"):
            ex.export_labels(p, data, force=True)
    assert (precious / "photo.jpg").read_bytes() == b"keep me"


def test_audit_csv_parses_back(proj, tmp_path):
    p, _ = proj
    ex.export_audit(p, tmp_path / "audit.csv")
    with open(tmp_path / "audit.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    log = p.audit_log()
    assert len(rows) == len(log)
    for r, entry in zip(rows, log, strict=True):
        assert [r[c] for c in ex.AUDIT_COLUMNS] == ["" if v is None else str(v) for v in entry]
        if r["after_json"]:
            json.loads(r["after_json"])


def test_export_command_checks_every_destination_first(proj, tmp_path):
    p, _ = proj
    (tmp_path / "taken.txt").write_text("x")
    with pytest.raises(UserInputError, match="taken.txt"):
        ex.export_command(p, csv_path=tmp_path / "a.csv", labels=tmp_path / "taken.txt")
    assert not (tmp_path / "a.csv").exists()
    with pytest.raises(UserInputError, match="nothing"):
        ex.export_command(p)
    reps = ex.export_command(p, csv_path=tmp_path / "a.csv", jsonl_path=tmp_path / "a.jsonl",
                             tree=tmp_path / "t", link="symlink", labels=tmp_path / "l.txt",
                             audit=tmp_path / "au.csv")
    assert [r.kind for r in reps] == ["seeds_csv", "seeds_jsonl", "tree", "labels", "audit"]
    assert all(r.rows > 0 and r.path.exists() for r in reps)


def test_corrected_label_rule():
    nan = math.nan
    assert ex.corrected_label(10.0, "high", 50.0, 60.0) == (10.0, "corrected_score")
    assert ex.corrected_label(None, "high", 50.0, 60.0) == (85.0, "tier")
    assert ex.corrected_label(None, None, 50.0, 60.0) == (50.0, "quality")
    assert ex.corrected_label(nan, None, nan, 60.0) == (60.0, "sdd")
    assert ex.corrected_label(None, None, None, nan) == (None, "")
    assert np.isclose(ex.TIER_LABELS["unusable"], 0.0)
