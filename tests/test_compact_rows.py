"""The stand-alone `score` keeps no Python object per row: manifests read into compact columns,
flags as bit codes, the CSV written from arrays block by block — and the table is the same."""

import numpy as np
import pytest

from fiqa_gui.core.atomic_output import PathGroups, guard_output
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.export import score_table
from fiqa_gui.core.export.score_table import write_scores_csv
from fiqa_gui.core.ingest.columns import CodedColumn, RowNumbers, TextColumn
from fiqa_gui.core.ingest.manifest import read_manifest
from fiqa_gui.core.scoring.flag_lists import FlagLists


def _manifest(tmp_path, rows, header="path,cluster"):
    p = tmp_path / "m.csv"
    p.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return p


def test_manifest_columns_read_like_lists(tmp_path):
    rows = ["b/1.jpg,bob", "a/2.jpg,alice", '"c,3.jpg",bob', "", "é/4.jpg, carol "]
    ds = read_manifest(_manifest(tmp_path, rows))
    assert isinstance(ds.paths, TextColumn) and isinstance(ds.clusters, CodedColumn)
    assert isinstance(ds.lines, RowNumbers)
    assert ds.paths == ["b/1.jpg", "a/2.jpg", "c,3.jpg", "é/4.jpg"]
    assert ds.paths[1:3] == ["a/2.jpg", "c,3.jpg"] and ds.paths[-1] == "é/4.jpg"
    assert list(ds.clusters) == ["bob", "alice", "bob", "carol"]
    assert ds.cluster_names == ["alice", "bob", "carol"]
    assert ds.labels.tolist() == [1, 0, 1, 2]
    assert list(ds.lines) == [2, 3, 4, 6] and type(ds.lines[0]) is int
    assert ds.locate(3)["row"] == 6
    ds.paths[1] = "z/longer name.jpg"
    ds.clusters[0] = "dave"
    assert ds.paths == ["b/1.jpg", "z/longer name.jpg", "c,3.jpg", "é/4.jpg"]
    assert list(ds.clusters) == ["dave", "alice", "bob", "carol"]
    assert ds.labels.tolist() == [1, 0, 1, 2]  # labels are the dataset's own, as with lists


def test_duplicates_found_from_hashes_name_both_lines(tmp_path):
    rows = [f"img{i}.jpg,c{i % 3}" for i in range(50)] + ["x/../img7.jpg,c1", "img3.jpg,c0"]
    with pytest.raises(UserInputError) as e:
        read_manifest(_manifest(tmp_path, rows))
    assert "duplicate path 'x/../img7.jpg' (first listed on line 9)" in str(e.value)
    assert e.value.row == 52


def test_csv_from_codes_and_float32_equals_csv_from_lists_and_float64(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    n = 1000
    monkeypatch.setattr(score_table, "ROWS_PER_BLOCK", 97)  # many blocks, a short last one
    paths = [f"id{i % 7}/img{i}.jpg" for i in range(n)]
    clusters = [f"id{i % 7}" for i in range(n)]
    cols32 = {c: rng.normal(size=n).astype(np.float32) for c in score_table.BASE_COLUMNS}
    cols32["iq"][::5] = np.nan
    names = ("singleton", "unreadable", "identity_suspect")
    codes = rng.integers(0, 8, n).astype(np.uint32)
    flags = FlagLists(codes, [names])
    lists = [[nm for k, nm in enumerate(names) if c >> k & 1] for c in codes.tolist()]
    extra = {"lowinfo": rng.random(n).astype(np.float32)}
    a = write_scores_csv(tmp_path / "a.csv", TextColumn.from_strings(paths),
                         CodedColumn(sorted(set(clusters)),
                                     np.array([sorted(set(clusters)).index(c) for c in clusters])),
                         cols32, flags, extra)
    b = write_scores_csv(tmp_path / "b.csv", paths, clusters,
                         {k: v.astype(np.float64) for k, v in cols32.items()}, lists,
                         {k: v.astype(np.float64) for k, v in extra.items()})
    assert a.read_bytes() == b.read_bytes()


def test_path_groups_protect_each_image(tmp_path):
    img = tmp_path / "a" / "1.jpg"
    img.parent.mkdir()
    img.write_bytes(b"x")
    groups = PathGroups([tmp_path / "m.csv"], groups=[(tmp_path, TextColumn.from_strings(
        ["a/1.jpg"]))])
    assert [str(p) for p in groups] == [str(tmp_path / "m.csv"), str(img)]
    with pytest.raises(UserInputError, match="would replace"):
        guard_output(img, force=True, protected=groups)
