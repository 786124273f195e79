"""The score CSV: manifest order, NaN as empty cells, ';'-joined flags, atomic write."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.export.score_table import read_scores_csv, write_scores_csv


def test_round_trip(tmp_path):
    out = write_scores_csv(tmp_path / "s.csv", ["a.jpg", "b, c.jpg"], ["x", "y"],
                           {"sdd": np.array([1.5, np.nan]), "cr": np.array([0.25, 0.5])},
                           [["singleton", "low_iq"], []], extra={"sharpness": np.array([3, 4])})
    t = read_scores_csv(out)
    assert list(t)[:10] == ["path", "cluster", "sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq",
                            "quality", "flags"]
    assert t["path"] == ["a.jpg", "b, c.jpg"] and t["sdd"] == ["1.5", ""]
    assert t["flags"] == ["singleton;low_iq", ""] and t["sharpness"] == ["3", "4"]
    assert t["quality"] == ["", ""]
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"]  # no temporary file left


def test_bad_destinations(tmp_path):
    with pytest.raises(UserInputError, match="is a folder"):
        write_scores_csv(tmp_path, ["a"], ["x"], {}, [[]])
    with pytest.raises(UserInputError, match="does not exist"):
        write_scores_csv(tmp_path / "no" / "s.csv", ["a"], ["x"], {}, [[]])


def test_blocks_of_rows_write_the_same_file(tmp_path, monkeypatch):
    """The table is formatted a block of rows at a time; block edges change nothing."""
    from fiqa_gui.core.export import score_table

    rng = np.random.default_rng(0)
    n = 11
    cols = {c: rng.normal(size=n) for c in score_table.BASE_COLUMNS}
    cols["cr"][[0, 4, 10]] = np.nan
    flags = [["singleton"] if i % 4 == 0 else [] for i in range(n)]
    args = ([f"img/{i}.png" for i in range(n)], [f"c{i % 3}" for i in range(n)], cols, flags,
            {"blur": rng.normal(size=n)})
    whole = write_scores_csv(tmp_path / "whole.csv", *args)
    monkeypatch.setattr(score_table, "ROWS_PER_BLOCK", 4)
    blocks = write_scores_csv(tmp_path / "blocks.csv", *args)
    assert whole.read_bytes() == blocks.read_bytes()
    table = read_scores_csv(blocks)
    assert len(table["path"]) == n and table["cr"][4] == "" and table["flags"][8] == "singleton"
