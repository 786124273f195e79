"""The dataset-wide views' core: which images, in which order (flagged, ranked), the identity
suspect's nearer cluster, a cluster's anchors and the near-duplicate groups."""

from __future__ import annotations

import time

import numpy as np

from fiqa_gui.core.review.dataset_views import (
    BY_CLUSTER,
    FlagIndex,
    anchors,
    flagged_view,
    group_of,
    near_dup_groups,
    near_dup_members,
    next_in,
    order_ids,
    ranked_view,
    suspect_of,
)

FLAGS = [["low_iq"], [], ["identity_suspect", "low_iq"], ["consistency_trap"], [],
         ["near_duplicate"], ["near_duplicate", "consistency_trap"], []]


def test_flag_index_masks_every_flag_and_leaves_cluster_flags_out_of_any():
    idx = FlagIndex(FLAGS)
    np.testing.assert_array_equal(np.flatnonzero(idx.mask("low_iq")), [0, 2])
    np.testing.assert_array_equal(np.flatnonzero(idx.mask("consistency_trap")), [3, 6])
    np.testing.assert_array_equal(np.flatnonzero(idx.mask()), [0, 2, 5, 6])  # not 3
    assert idx.image_flags() == ["identity_suspect", "low_iq", "near_duplicate"]
    assert idx.count("nothing_like_it") == 0
    assert FlagIndex([[], []]).count() == 0


def test_order_puts_nan_last_both_ways_and_keeps_ties_in_id_order():
    values = np.array([5.0, np.nan, 5.0, 1.0, 9.0])
    ids = np.arange(5)
    np.testing.assert_array_equal(order_ids(ids, values, True), [4, 0, 2, 3, 1])
    np.testing.assert_array_equal(order_ids(ids, values, False), [3, 0, 2, 4, 1])
    groups = np.array([1, 0, 0, 1, 0])
    np.testing.assert_array_equal(order_ids(ids, values, True, groups), [4, 2, 1, 0, 3])


def test_ranked_view_is_a_stable_argsort_of_the_whole_column():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 50, 1000).astype(float)
    v[::17] = np.nan
    scores = {"sdd": v}
    got = ranked_view(scores, "sdd", descending=False)
    ok = np.isfinite(v)
    want = np.concatenate([np.flatnonzero(ok)[np.argsort(v[ok], kind="stable")],
                           np.flatnonzero(~ok)])
    np.testing.assert_array_equal(got, want)


def test_flagged_view_orders_by_score_or_cluster_by_cluster():
    idx = FlagIndex(FLAGS)
    scores = {"quality": np.array([10, 0, 30, 0, 0, 20, 40, 0], float),
              "sdd": np.array([1, 0, 3, 0, 0, 2, 0.5, 0], float)}
    labels = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(flagged_view(idx, scores, labels, None, "sdd"), [2, 5, 0, 6])
    np.testing.assert_array_equal(flagged_view(idx, scores, labels, None, BY_CLUSTER),
                                  [6, 2, 5, 0])
    np.testing.assert_array_equal(flagged_view(idx, scores, labels, "low_iq", "sdd", False),
                                  [0, 2])


def test_next_in_wraps_around():
    order = np.array([4, 2, 0, 3])
    mask = np.array([True, False, False, True, False])
    assert next_in(order, mask, 0) == 2
    assert next_in(order, mask, 2) == 3
    assert next_in(order, mask, 3) == 2
    assert next_in(order, np.zeros(5, bool), 0) == -1


def test_suspect_names_its_nearer_cluster_by_name_after_a_move():
    details = [{"flag": "low_iq", "explanation": "dark"},
               {"flag": "identity_suspect", "explanation": "Possibly a different person",
                "numbers": {"nearest_cluster": 0, "nearest_cluster_name": "bob"}}]
    labels = np.array([0, 0, 1, 1, 2])
    s = suspect_of(4, labels, ["alice", "bob", "carol"], details)
    assert (s.cluster, s.nearer, s.nearer_name) == (2, 1, "bob")
    assert s.explanation.startswith("Possibly")
    gone = suspect_of(4, labels, ["alice", "carol"], details)
    assert gone.nearer == -1 and gone.nearer_name == "bob"


def test_anchors_come_first_then_the_best_quality():
    scores = {"quality": np.array([50, 90, 70, 10, 80], float),
              "is_anchor": np.array([0, 0, 1, 1, 0], float)}
    members = np.arange(5)
    np.testing.assert_array_equal(anchors(scores, members, 3), [2, 3, 1])
    np.testing.assert_array_equal(anchors(scores, members, 3, exclude=[2]), [3, 1, 4])
    del scores["is_anchor"]
    np.testing.assert_array_equal(anchors(scores, members, 2), [1, 4])
    # the top-up stops at the cluster's median quality: poor images never pose as anchors
    np.testing.assert_array_equal(anchors(scores, members, 5), [1, 4, 2])
    scores["is_anchor"] = np.array([0, 0, 0, 1, 0], float)
    np.testing.assert_array_equal(anchors(scores, members, 5), [3, 1, 4, 2])


def test_near_duplicate_groups():
    scores = {"near_dup_group": np.array([-1, 0, 0, np.nan, 3, 3, 3, -1])}
    np.testing.assert_array_equal(near_dup_groups(scores), [0, 3])
    np.testing.assert_array_equal(near_dup_members(scores, 3), [4, 5, 6])
    assert group_of(scores, 1) == 0 and group_of(scores, 3) == -1
    assert not len(near_dup_groups({}))


def test_a_million_images_in_well_under_a_second_each():
    n = 1_000_000
    rng = np.random.default_rng(0)
    kinds = [[], ["low_iq"], ["identity_suspect"], []]
    flags = [kinds[k] for k in rng.integers(0, 4, n)]
    scores = {"quality": rng.random(n)}
    labels = rng.integers(0, 50_000, n)
    t = time.perf_counter()
    idx = FlagIndex(flags)
    ids = flagged_view(idx, scores, labels, None, BY_CLUSTER)
    ranked = ranked_view(scores, "quality")
    assert time.perf_counter() - t < 5.0
    assert len(ids) == idx.count() and len(ranked) == n
