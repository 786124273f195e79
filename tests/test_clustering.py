"""Multi-threshold clustering: nesting, equality with a brute-force reference, approximate-index
recall and determinism, the store round trip, and clustering a plain folder into a manifest."""

from __future__ import annotations

import numpy as np
import pytest

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.manifest import read_manifest
from fiqa_gui.core.seedsets import clustering as cl
from fiqa_gui.core.seedsets import neighbours as nb
from fiqa_gui.core.store import Project
from tests.conftest import write_image
from tests.test_sampling import build_project


def clustered(n_groups: int, per: int, d: int = 32, spread: float = 0.35, seed: int = 0,
              looks: int = 2):
    """Unit vectors: groups around random centres, each with a few 'looks' (sub-centres)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(n_groups), per)
    look_dirs = rng.normal(size=(n_groups, looks, d)) * 0.5 / np.sqrt(d)  # norm ~0.5
    look = rng.integers(0, looks, len(labels))
    x = centres[labels] + look_dirs[labels, look] + rng.normal(size=(len(labels), d)) * spread \
        / np.sqrt(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def brute_force_components(x: np.ndarray, t: float, groups=None) -> np.ndarray:
    """Reference: all pairs with cosine >= t (within groups, if given), union-find."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn @ xn.T
    n = len(x)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(s >= t, 1)), strict=True):
        if groups is not None and groups[i] != groups[j]:
            continue
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return cl._canonical(np.array([find(i) for i in range(n)]))


def test_levels_are_nested_and_equal_the_brute_force_reference():
    x, _ = clustered(8, 30)
    ts = (0.8, 0.6, 0.4)
    res = cl.cluster_embeddings(x, ts, k=len(x) - 1, index="exact")
    assert res.thresholds == ts
    for level, t in enumerate(ts):
        np.testing.assert_array_equal(res.labels[level], brute_force_components(x, t))
    for level in range(1, len(ts)):
        assert cl.check_nested(res.labels[level - 1], res.labels[level])
    counts = [s["components"] for s in res.summary()]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def test_small_k_levels_stay_nested_whatever_the_threshold_order():
    x, _ = clustered(10, 20, spread=0.6, seed=3)
    res = cl.cluster_embeddings(x, [0.3, 0.7, 0.5], k=3)
    assert res.thresholds == (0.7, 0.5, 0.3)
    for level in range(1, 3):
        assert cl.check_nested(res.labels[level - 1], res.labels[level])


def test_within_cluster_subclusters_lie_inside_clusters_and_match_reference():
    x, labels = clustered(6, 25, seed=1)
    groups = labels.copy()
    groups[:5] = 5  # a few images 'mislabelled' into another cluster: still split by cluster
    res = cl.cluster_embeddings(x, (0.9, 0.7), k=200, groups=groups)
    for level, t in enumerate(res.thresholds):
        lab = res.labels[level]
        for c in np.unique(lab):
            assert len(np.unique(groups[lab == c])) == 1
        np.testing.assert_array_equal(lab, brute_force_components(x, t, groups))


def test_ivf_recall_refinement_and_determinism():
    x, _ = clustered(120, 25, d=64, spread=0.8, seed=2)
    params = nb.IvfParams(nlist=40, nprobe=2, refine=0)
    rough = nb.knn_graph(x, 10, min_sim=0.5, index="ivf", ivf=params, seed=7)
    refined = nb.knn_graph(x, 10, min_sim=0.5, index="ivf",
                           ivf=nb.IvfParams(nlist=40, nprobe=2, refine=2), seed=7)
    queries = np.random.default_rng(0).choice(len(x), 500, replace=False)
    r0 = nb.knn_recall(rough, x, queries, thresholds=(0.5,))
    r2 = nb.knn_recall(refined, x, queries, thresholds=(0.5,))
    assert r2["edge_recall@0.5"] >= 0.99
    assert r2["edge_recall@0.5"] >= r0["edge_recall@0.5"]
    again = nb.knn_graph(x, 10, min_sim=0.5, index="ivf",
                         ivf=nb.IvfParams(nlist=40, nprobe=2, refine=2), seed=7)
    np.testing.assert_array_equal(refined.ids, again.ids)
    exact = cl.cluster_embeddings(x, (0.6, 0.5), k=10, index="exact")
    approx = cl.cluster_embeddings(x, (0.6, 0.5), k=10, index="ivf",
                                   ivf=nb.IvfParams(nlist=40, nprobe=2))
    # same partition at the loose level (components are what a curator sees)
    np.testing.assert_array_equal(exact.labels[1], approx.labels[1])


def test_hnsw_index_finds_neighbours():
    x, _ = clustered(20, 20, seed=4)
    g = nb.knn_graph(x, 8, index="hnsw")
    assert g.method == "hnsw"
    r = nb.knn_recall(g, x, np.arange(0, len(x), 4))
    assert r["recall@8"] >= 0.9


def test_exact_graph_excludes_self_and_respects_min_sim():
    x, _ = clustered(4, 10, seed=5)
    g = nb.knn_graph(x, 5, min_sim=0.5)
    assert g.method == "exact"
    rows = np.arange(len(x))[:, None]
    assert not np.any(g.ids == rows)
    assert np.all(g.sims[g.ids >= 0] >= 0.5)
    assert np.all(np.diff(g.sims, axis=1)[np.isfinite(np.diff(g.sims, axis=1))] <= 1e-6)


def test_bad_arguments_are_user_errors():
    x, _ = clustered(2, 5)
    with pytest.raises(UserInputError):
        cl.cluster_embeddings(x, (1.5,))
    with pytest.raises(UserInputError):
        cl.cluster_embeddings(x, ())
    with pytest.raises(UserInputError):
        nb.knn_graph(x, 4, index="annoy")
    with pytest.raises(UserInputError):
        cl.cluster_command(x, within_clusters=True)


def test_store_and_load_round_trip_through_reopen(tmp_path):
    folder, info = build_project(tmp_path)
    with Project.open(folder) as p:
        res = cl.cluster_command(p, (0.9, 0.7, 0.5), k=10)
        run_id = res.run_id
        assert run_id is not None
        assert p.runs("cluster")[-1].id == run_id
        assert p.audit_log()[-1][2] == "add_run"
    with Project.open(folder, read_only=True) as p:
        back = cl.load_clustering(p)
        assert back.run_id == run_id and back.within_clusters
        assert back.thresholds == (0.9, 0.7, 0.5)
        np.testing.assert_array_equal(back.labels, res.labels)
        assert cl.load_levels(p, run_id) == [(0, 0.9), (1, 0.7), (2, 0.5)]
        # every sub-cluster lies inside one identity cluster
        for c in np.unique(back.labels[2]):
            assert len(np.unique(info["clusters"][back.labels[2] == c])) == 1
        with pytest.raises(UserInputError):
            cl.load_level(p, run_id, 7)


def test_store_refuses_a_result_of_another_size(tmp_path):
    folder, _ = build_project(tmp_path)
    x, _ = clustered(2, 5)
    res = cl.cluster_embeddings(x, (0.5,))
    with Project.open(folder) as p, pytest.raises(UserInputError):
        cl.store_clustering(p, res)


def test_cluster_a_plain_folder_into_a_manifest(tmp_path):
    x, labels = clustered(3, 6, seed=6, spread=0.2)
    root = tmp_path / "crops"
    names = []
    for i in range(len(x)):  # nested folders and odd names; rows follow list_images order
        rel = f"batch{i % 2}/img {i:02d}.png"
        write_image(root / rel, seed=i, size=8)
        names.append(rel)
    listed = cl.list_images(root)
    assert listed == sorted(names)
    order = [names.index(p) for p in listed]
    np.save(tmp_path / "emb.npy", x[order])
    out = tmp_path / "out" / "manifest.csv"
    info = cl.cluster_folder_to_manifest(root, tmp_path / "emb.npy", out, threshold=0.6)
    assert info.clusters == 3 and info.images == len(x)
    ds = read_manifest(out)
    assert [str(ds.absolute_path(i).resolve()) for i in range(len(ds))] == \
        [str((root / p).resolve()) for p in listed]
    got = np.array([ds.cluster_names.index(c) for c in ds.clusters])
    np.testing.assert_array_equal(cl._canonical(got), cl._canonical(labels[order]))
    with pytest.raises(UserInputError, match="--force"):
        cl.cluster_folder_to_manifest(root, tmp_path / "emb.npy", out)
    np.save(tmp_path / "short.npy", x[:5])
    with pytest.raises(UserInputError):
        cl.cluster_folder_to_manifest(root, tmp_path / "short.npy", tmp_path / "m2.csv")
    assert not (tmp_path / "m2.csv").exists()
    cl.cluster_folder_to_manifest(root, tmp_path / "emb.npy", out, threshold=0.99, force=True)
    assert len(set(read_manifest(out).clusters)) > 3
