"""Loading and validation: every bad input becomes a UserInputError naming file, row and fix."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.loading import load_data
from tests.conftest import write_manifest


def test_manifest_loads_with_attributes_and_labels(small_data):
    data = load_data(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    ds = data.dataset
    assert ds.paths == [r["path"] for r in small_data["rows"]]
    assert ds.cluster_names == ["alice", "bob", "carol", "dave"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3]
    assert set(ds.attributes) == {"pose", "source"}
    assert ds.attributes["pose"][:3] == ["frontal", "left", "frontal"]
    assert ds.singleton_mask.tolist() == [False] * 8 + [True]
    assert any("single image" in w for w in ds.warnings)
    assert isinstance(data.embeddings, np.memmap)  # .npy is memory-mapped, not loaded
    assert ds.lines == list(range(2, 11))


def test_image_folder_loads_sorted(small_data):
    ds = load_data(images=small_data["image_root"]).dataset
    assert ds.paths[0] == "alice/0.png"
    assert ds.cluster_names == ["alice", "bob", "carol", "dave"]
    assert len(ds) == 9
    assert ds.image_sizes[0].tolist() == [32, 32]


def _err(**kwargs) -> str:
    with pytest.raises(UserInputError) as info:
        load_data(**kwargs)
    return str(info.value)


def test_missing_image_names_file_and_line(small_data):
    (small_data["root"] / "img/bob/1.png").unlink()
    msg = _err(manifest=small_data["manifest"])
    assert "manifest.csv" in msg and "line 6" in msg and "bob/1.png" in msg and "Fix:" in msg


def test_duplicate_path(small_data, tmp_path):
    rows = small_data["rows"] + [small_data["rows"][1]]
    m = write_manifest(small_data["root"] / "dup.csv", rows)
    msg = _err(manifest=m)
    assert "dup.csv" in msg and "line 11" in msg and "first listed on line 3" in msg


def test_duplicate_path_spelled_differently(small_data):
    rows = small_data["rows"] + [dict(small_data["rows"][0], path="img/../img/alice/0.png")]
    m = write_manifest(small_data["root"] / "dup2.csv", rows)
    assert "duplicate path" in _err(manifest=m)


def test_duplicate_path_through_links(small_data):
    """A link to a listed file, or a listed file reached through a linked folder, is the same
    image (the folder part is resolved once per folder, the file when it is a link)."""
    root = small_data["root"]
    (root / "img" / "alias.png").symlink_to(root / "img" / "alice" / "0.png")
    (root / "linked").symlink_to(root / "img" / "alice", target_is_directory=True)
    for alias in ("img/alias.png", "linked/0.png"):
        rows = small_data["rows"] + [dict(small_data["rows"][0], path=alias)]
        m = write_manifest(root / "dup3.csv", rows)
        msg = _err(manifest=m)
        assert "duplicate path" in msg and "first listed on line 2" in msg, alias


def test_embedding_row_count_mismatch(small_data):
    np.save(small_data["embeddings"], small_data["emb"][:-2])
    msg = _err(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    assert "emb.npy" in msg and "7 rows" in msg and "9" in msg


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "NaN or infinite"),
                                      (0.0, "all zeros")])
def test_bad_embedding_rows_are_named(small_data, bad, word):
    emb = small_data["emb"].copy()
    if bad == 0.0:
        emb[[2, 5]] = 0.0
    else:
        emb[2, 3] = bad
        emb[5, 0] = bad
    np.save(small_data["embeddings"], emb)
    msg = _err(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    assert word in msg and "rows 2, 5" in msg and "img/alice/2.png" in msg


@pytest.mark.parametrize("arr,word", [
    (np.arange(9, dtype=np.float32), "2-D"),
    (np.ones((9, 4), dtype=np.int64), "dtype int64"),
    (np.array([[{"a": 1}]] * 9, dtype=object), "Python objects"),
])
def test_wrong_shape_or_dtype(small_data, arr, word):
    np.save(small_data["embeddings"], arr, allow_pickle=True)
    msg = _err(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    assert word in msg and "emb.npy" in msg


def test_npz_with_named_array_and_ambiguous_npz(small_data, tmp_path):
    p = tmp_path / "e.npz"
    np.savez(p, embeddings=small_data["emb"], labels=np.arange(9))
    data = load_data(manifest=small_data["manifest"], embeddings=p)
    assert np.array_equal(data.embeddings, small_data["emb"])
    q = tmp_path / "f.npz"
    np.savez(q, a=small_data["emb"], b=small_data["emb"])
    assert "none is named 'embeddings'" in _err(manifest=small_data["manifest"], embeddings=q)


def test_truncated_npy(small_data):
    raw = small_data["embeddings"].read_bytes()
    small_data["embeddings"].write_bytes(raw[: len(raw) // 2])
    msg = _err(manifest=small_data["manifest"], embeddings=small_data["embeddings"])
    assert "emb.npy" in msg and "Fix:" in msg


@pytest.mark.parametrize("col", ["path", "cluster"])
def test_missing_required_column(small_data, col):
    header = [h for h in small_data["rows"][0] if h != col]
    m = write_manifest(small_data["root"] / "m.csv", small_data["rows"], header=header)
    msg = _err(manifest=m)
    assert f"'{col}' is missing" in msg and "line 1" in msg


@pytest.mark.parametrize("col,line", [("path", 4), ("cluster", 7)])
def test_empty_required_cell(small_data, col, line):
    rows = [dict(r) for r in small_data["rows"]]
    rows[line - 2][col] = "  "
    m = write_manifest(small_data["root"] / "m.csv", rows)
    msg = _err(manifest=m)
    assert f"'{col}' cell is empty" in msg and f"line {line}" in msg


def test_unreadable_encoding(small_data):
    m = small_data["root"] / "latin.csv"
    rows = [dict(r) for r in small_data["rows"]]
    rows[3]["source"] = "café"
    write_manifest(m, rows, encoding="latin-1")
    msg = _err(manifest=m)
    assert "latin.csv" in msg and "UTF-8" in msg and "line 5" in msg


def test_utf8_bom_and_utf16_are_read(small_data):
    for enc in ("utf-8-sig", "utf-16"):
        m = write_manifest(small_data["root"] / f"{enc}.csv", small_data["rows"], encoding=enc)
        assert load_data(manifest=m).dataset.paths[0] == "img/alice/0.png"


def test_ragged_row(small_data):
    m = small_data["root"] / "ragged.csv"
    text = small_data["manifest"].read_text().splitlines()
    text[3] += ",extra"
    m.write_text("\n".join(text) + "\n")
    msg = _err(manifest=m)
    assert "line 4" in msg and "fields" in msg


def test_binary_file_as_manifest(small_data):
    msg = _err(manifest=small_data["embeddings"])
    assert "emb.npy" in msg


def test_empty_and_header_only_manifest(small_data):
    m = small_data["root"] / "empty.csv"
    m.write_text("")
    assert "empty" in _err(manifest=m)
    m.write_text("path,cluster\n")
    assert "no image rows" in _err(manifest=m)


def test_undecodable_image_is_reported_not_fatal(small_data):
    (small_data["root"] / "img/carol/1.png").write_bytes(b"not a png at all")
    ds = load_data(manifest=small_data["manifest"]).dataset
    assert ds.unreadable.tolist() == [False] * 7 + [True, False]
    assert any("line 9" in w and "cannot decode" in w for w in ds.warnings)


def test_absolute_paths_in_manifest(small_data, tmp_path):
    rows = [dict(r, path=str((small_data["root"] / r["path"]).resolve()))
            for r in small_data["rows"]]
    m = write_manifest(tmp_path / "elsewhere.csv", rows)
    ds = load_data(manifest=m).dataset
    assert ds.absolute_path(0) == (small_data["root"] / "img/alice/0.png").resolve()


def test_image_folder_errors(tmp_path):
    assert "does not exist" in _err(images=tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.jpg").write_bytes(b"x")
    assert "sub-folder" in _err(images=tmp_path / "flat")
