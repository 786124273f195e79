"""Per-image flags as bit codes (`FlagLists`) and flag details built when read (`FlagDetails`)
read exactly like the lists they replace."""

import numpy as np

from fiqa_gui.core.labels.flag_details import FlagDetail, FlagDetails, LowIq, ScoreShifts
from fiqa_gui.core.labels.project_scoring import merge_flags
from fiqa_gui.core.memory import release_freed
from fiqa_gui.core.scoring.flag_lists import FlagLists


def test_flag_lists_read_like_lists_and_merge_like_merge_flags():
    a_rows = [[], ["singleton"], ["singleton", "identity_suspect"], ["unreadable"], []]
    b_rows = [["near_duplicate"], ["near_duplicate", "singleton"], [], ["consistency_trap"], []]
    a = FlagLists.from_lists(a_rows, ("singleton", "unreadable", "identity_suspect"))
    b = FlagLists.from_lists(b_rows, ("near_duplicate", "singleton", "consistency_trap"))
    assert a == a_rows and list(a) == a_rows and a[1:3] == a_rows[1:3] and len(a) == 5
    merged = merge_flags(a, b)
    assert isinstance(merged, FlagLists)
    assert list(merged) == merge_flags(a_rows, b_rows)
    assert merged[1] == ["singleton", "near_duplicate"]   # a's first, b's new ones, once
    assert merged.has("singleton").tolist() == [False, True, True, False, False]
    assert merged.joined() == ["near_duplicate", "singleton;near_duplicate",
                               "singleton;identity_suspect", "unreadable;consistency_trap", ""]
    assert merged[0] is merged.view(int(merged.codes[0]))  # one shared list per code


def test_flag_lists_set_by_mask_and_index():
    f = FlagLists.empty(4, ("x", "y"))
    f.set("y", np.array([True, False, True, False]))
    f.set("x", np.array([2, 3]))
    assert list(f) == [["y"], [], ["x", "y"], ["x"]]


def test_flag_details_build_in_order_and_only_when_read():
    labels = np.array([0, 0, 0, 1, 1, 1])
    poorness = np.array([0.1, 0.9, 0.8, 0.0, 0.7, 0.9])
    strength = np.linspace(0, 1, 6)
    shifts = ScoreShifts(ids=np.array([0, 3]), by_cr=np.array([False, True]),
                         ranks=np.array([3, 2]), labels=labels, poorness=poorness,
                         strength=strength, cluster_median=np.array([0.8, 0.7]),
                         cluster_size=np.array([3, 3]), shift_gap=0.5)
    low = LowIq(np.array([5]), labels, np.array([90, 90, 90, 90, 90, 12.0]), 30.0)
    trap = FlagDetail("consistency_trap", 1, None, "trap", {})
    details = FlagDetails(per_cluster={1: [trap]}, score_shifts=shifts, low_iq=low)
    assert details._list is None and len(details) == 4
    got = list(details)
    assert [(d.flag, d.cluster, d.image) for d in got] == [
        ("score_shift", 0, 0), ("consistency_trap", 1, None), ("score_shift", 1, 3),
        ("low_iq", 1, 5)]
    assert got[0].numbers["score"] == "SDD" and got[2].numbers["score"] == "CR"
    assert "ranks it 3 of 3" in got[0].explanation
    assert got[3].explanation == ("Pixel quality 12/100 is below 30 (blur, exposure or "
                                  "resolution).")
    assert details[2].image == 3


def test_release_freed_runs():
    release_freed(collect=True)  # glibc: malloc_trim; elsewhere a no-op
