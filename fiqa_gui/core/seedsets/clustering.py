"""Multi-threshold clustering: a k-NN graph over cosine similarity, components at nested levels.

Every image is linked to its `k` nearest neighbours (inner product of L2-normalised embeddings)
whose cosine is at least the loosest threshold; a level at threshold `t` keeps the edges with
cosine >= t and takes connected components (the graph is treated as undirected: i-j is an edge when
j is among i's k nearest or i among j's). All levels are cut from the SAME neighbour lists, so the
edges of a tighter level are a subset of the looser one's and every tight component lies inside
one loose component (nested by construction; `cluster_embeddings` also checks it).

Two uses: sub-clusters inside each identity cluster (`groups=` the cluster labels: neighbours are
searched only within the cluster, exactly) and grouping un-clustered face crops into identity
clusters (`cluster_folder_to_manifest`).

The neighbour lists come from `neighbours.knn_graph` (exact, IVF self-join or HNSW).
"""


from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiqa_gui.core.atomic_output import atomic_file, guard_output
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.embeddings import load_embeddings, validate_embeddings
from fiqa_gui.core.ingest.image_folder import IMAGE_EXTENSIONS
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.seedsets.neighbours import (
    DEFAULT_K,
    IvfParams,
    KnnGraph,
    check_cancel,
    knn_graph,
    normalise_rows,
    topk_rows,
)
from fiqa_gui.core.store.schema import transaction

DEFAULT_THRESHOLDS = (0.7, 0.6, 0.5)
RUN_KIND = "cluster"


# ----------------------------------------------------------------------------- levels
def components(graph: KnnGraph, threshold: float) -> np.ndarray:
    """Connected components of the edges with cosine >= threshold (undirected), canonical labels:
    numbered 0.. in order of each component's smallest row."""
    # scipy.sparse here, not at module level: the window imports this module at start-up
    # (~0.2 s of scipy it needs only when it clusters)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = graph.n
    mask = (graph.ids >= 0) & (graph.sims >= threshold)
    rows, cols = np.nonzero(mask)
    adj = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, graph.ids[rows, cols])),
                     shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=False)
    return _canonical(labels)


def _canonical(labels: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def check_nested(tight: np.ndarray, loose: np.ndarray) -> bool:
    """True when every tight component lies inside one loose component."""
    pairs = np.unique(np.stack([tight, loose]), axis=1)
    return pairs.shape[1] == len(np.unique(tight))


@dataclass
class ClusteringResult:
    """Component labels per level; level 0 is the tightest (highest cosine) threshold."""

    thresholds: tuple[float, ...]
    labels: np.ndarray            # (levels, n) int64
    within_clusters: bool
    params: dict = field(default_factory=dict)
    duration_s: float | None = None
    run_id: int | None = None
    graph: KnnGraph | None = None  # the neighbour lists, when asked for (`keep_graph=True`)

    @property
    def n_images(self) -> int:
        return self.labels.shape[1]

    def level_of(self, threshold: float) -> int:
        for i, t in enumerate(self.thresholds):
            if abs(t - threshold) < 1e-9:
                return i
        raise UserInputError(f"no level at threshold {threshold:g} (levels: "
                             f"{', '.join(f'{t:g}' for t in self.thresholds)})")

    def summary(self) -> list[dict]:
        """Per level: threshold, components, singletons, largest component."""
        rows = []
        for i, t in enumerate(self.thresholds):
            sizes = np.bincount(self.labels[i])
            rows.append({"level": i, "threshold": t, "components": int(len(sizes)),
                         "singletons": int((sizes == 1).sum()),
                         "largest": int(sizes.max()) if len(sizes) else 0})
        return rows


def _validate_thresholds(thresholds) -> tuple[float, ...]:
    try:
        ts = sorted({float(t) for t in thresholds}, reverse=True)
    except (TypeError, ValueError):
        raise UserInputError(f"thresholds must be numbers (got {thresholds!r})",
                             fix="pass cosine thresholds such as 0.7,0.6,0.5.") from None
    if not ts or any(not -1.0 <= t <= 1.0 for t in ts):
        raise UserInputError(f"thresholds must be cosines in [-1, 1] (got {list(thresholds)})",
                             fix="pass cosine thresholds such as 0.7,0.6,0.5.")
    return tuple(ts)


def _validate_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UserInputError(f"--k (neighbours per image) must be a whole number ≥ 1 (got {k!r})",
                             fix="e.g. --k 16.")


def cluster_embeddings(x: np.ndarray, thresholds=DEFAULT_THRESHOLDS, *, k: int = DEFAULT_K,
                       groups: np.ndarray | None = None, index: str = "auto", seed: int = 0,
                       ivf: IvfParams | None = None, keep_graph: bool = False,
                       progress: ProgressCallback = no_progress,
                       cancel: CancelToken | None = None) -> ClusteringResult:
    """Nested components of the k-NN graph at each threshold (tight to loose).

    With `groups` (one label per row, e.g. identity clusters), neighbours are searched only
    inside each group, so every component lies inside one group (sub-clusters).
    """
    t0 = time.perf_counter()
    ts = _validate_thresholds(thresholds)
    _validate_k(k)
    n = x.shape[0]
    if groups is None:
        graph = knn_graph(x, k, min_sim=ts[-1], index=index, seed=seed, ivf=ivf,
                          progress=progress, cancel=cancel)
        params = dict(graph.params, method=graph.method)
    else:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"{len(groups)} group labels for {n} rows")
        graph = _grouped_graph(x, groups, k, ts[-1], index, seed, ivf, progress, cancel)
        params = dict(graph.params, method=graph.method)
    labels = np.empty((len(ts), n), dtype=np.int64)
    for i, t in enumerate(ts):
        check_cancel(cancel)
        labels[i] = components(graph, t)
        progress(i + 1, len(ts), "connected components")
    for i in range(1, len(ts)):
        if not check_nested(labels[i - 1], labels[i]):  # cannot happen: edges only grow
            raise RuntimeError("clustering levels are not nested")
    params.update({"thresholds": list(ts), "k": int(k), "seed": int(seed),
                   "within_clusters": groups is not None, "index": index})
    return ClusteringResult(ts, labels, groups is not None, params,
                            duration_s=time.perf_counter() - t0,
                            graph=graph if keep_graph else None)


def _grouped_graph(x, groups, k, min_sim, index, seed, ivf, progress, cancel) -> KnnGraph:
    """k-NN graph with neighbours searched within each group only (exact for small groups)."""
    n = x.shape[0]
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    ids = np.full((n, k), -1, dtype=np.int64)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    methods = set()
    for b in range(len(bounds) - 1):
        if b % 256 == 0:
            check_cancel(cancel)
            progress(int(bounds[b]), n, "sub-cluster neighbours")
        members = np.sort(order[bounds[b]:bounds[b + 1]])
        m = len(members)
        if m < 2:
            continue
        xg = normalise_rows(x[members])
        if m <= 4096:  # dense: one matrix product, exact
            s = xg @ xg.T
            np.fill_diagonal(s, -np.inf)
            kk = min(k, m - 1)
            top = np.argpartition(-s, kk - 1, axis=1)[:, :kk] if kk < m - 1 else \
                np.broadcast_to(np.arange(m), (m, m))
            top_s = np.take_along_axis(s, top, axis=1)
            rows = np.repeat(np.arange(m), top.shape[1])
            cols, vals = top.ravel(), top_s.ravel()
            keep = (cols != rows) & (vals >= min_sim)
            gi, gs = topk_rows(rows[keep], cols[keep], vals[keep].astype(np.float32), m, k)
            methods.add("exact")
        else:
            g = knn_graph(xg, k, min_sim=min_sim, index=index, seed=seed, ivf=ivf, cancel=cancel)
            gi, gs = g.ids, g.sims
            methods.add(g.method)
        ids[members] = np.where(gi >= 0, members[np.maximum(gi, 0)], -1)
        sims[members] = gs
    progress(n, n, "sub-cluster neighbours")
    return KnnGraph(ids, sims, "+".join(sorted(methods)) or "exact",
                    {"k": k, "min_sim": float(min_sim), "search": "within each cluster"})


# ----------------------------------------------------------------------------- the store
def store_clustering(project, result: ClusteringResult, params: dict | None = None, *,
                     note: str | None = None) -> int:
    """Store a result as a run of kind 'cluster' with its levels and every image's labels, in
    one transaction; return the run id."""
    n = project.image_count()
    if result.n_images != n:
        raise UserInputError(f"the clustering covers {result.n_images} images but the project "
                             f"has {n}", file=project.folder,
                             fix="cluster the project's own embeddings.")
    run_params = dict(result.params, **(params or {}))
    conn = project.conn
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO runs(kind, params_json, device, seed, duration_s, note) "
            "VALUES (?, ?, 'cpu', ?, ?, ?)",
            (RUN_KIND, json.dumps(run_params, sort_keys=True), run_params.get("seed"),
             result.duration_s, note))
        run_id = int(cur.lastrowid)
        conn.executemany("INSERT INTO cluster_levels(run_id, level, threshold) VALUES (?, ?, ?)",
                         [(run_id, i, float(t)) for i, t in enumerate(result.thresholds)])
        for level in range(len(result.thresholds)):
            labels = result.labels[level]
            conn.executemany(
                "INSERT INTO subclusters(run_id, level, image_id, label) VALUES (?, ?, ?, ?)",
                ((run_id, level, i, int(v)) for i, v in enumerate(labels.tolist())))
        conn.execute("INSERT INTO audit_log(action, after_json) VALUES ('add_run', ?)",
                     (json.dumps({"run_id": run_id, "kind": RUN_KIND,
                                  "thresholds": list(result.thresholds)}),))
    result.run_id = run_id
    return run_id


def latest_clustering_run(project, *, within_clusters: bool | None = None) -> int | None:
    """The id of the newest 'cluster' run (optionally only within-cluster ones), or None."""
    for run in reversed(project.runs(RUN_KIND)):
        if within_clusters is None or bool(run.params.get("within_clusters")) == within_clusters:
            return run.id
    return None


def _resolve_run(project, run_id: int | None) -> int:
    if run_id is None:
        run_id = latest_clustering_run(project)
        if run_id is None:
            raise UserInputError("the project has no clustering run", file=project.folder,
                                 fix="run 'fiqa-gui cluster PROJECT' first.")
    row = project.conn.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None or row[0] != RUN_KIND:
        raise UserInputError(f"run {run_id} is not a clustering run", file=project.folder,
                             fix="list the runs with 'fiqa-gui info PROJECT'.")
    return int(run_id)


def load_levels(project, run_id: int | None = None) -> list[tuple[int, float]]:
    """(level, threshold) of a stored clustering run, tight to loose."""
    run_id = _resolve_run(project, run_id)
    return [(int(a), float(b)) for a, b in project.conn.execute(
        "SELECT level, threshold FROM cluster_levels WHERE run_id = ? ORDER BY level",
        (run_id,))]


def load_level(project, run_id: int | None, level: int) -> np.ndarray:
    """Every image's label at one level of a stored run (-1 for images added since)."""
    run_id = _resolve_run(project, run_id)
    out = np.full(project.image_count(), -1, dtype=np.int64)
    rows = project.conn.execute(
        "SELECT image_id, label FROM subclusters WHERE run_id = ? AND level = ?",
        (run_id, int(level))).fetchall()
    if not rows:
        raise UserInputError(f"clustering run {run_id} has no level {level}",
                             fix="pick a level listed by 'fiqa-gui info PROJECT'.")
    ids, labels = np.array(rows, dtype=np.int64).T
    out[ids] = labels
    return out


def load_clustering(project, run_id: int | None = None) -> ClusteringResult:
    """A stored clustering run (the latest when `run_id` is None), as a `ClusteringResult`."""
    run_id = _resolve_run(project, run_id)
    levels = load_levels(project, run_id)
    labels = np.stack([load_level(project, run_id, lv) for lv, _ in levels]) if levels else \
        np.empty((0, project.image_count()), dtype=np.int64)
    run = next(r for r in project.runs(RUN_KIND) if r.id == run_id)
    return ClusteringResult(tuple(t for _, t in levels), labels,
                            bool(run.params.get("within_clusters")), run.params,
                            duration_s=run.duration_s, run_id=run_id)


# ----------------------------------------------------------------------------- commands
def cluster_command(source, thresholds=DEFAULT_THRESHOLDS, *, k: int = DEFAULT_K,
                    within_clusters: bool = True, index: str = "auto", seed: int = 0,
                    ivf: IvfParams | None = None, store: bool = True,
                    progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None) -> ClusteringResult:
    """`fiqa-gui cluster`: cluster a project (stored as a run unless `store=False`) or arrays.

    `source` is a `Project`, an embeddings array, or `(embeddings, cluster_labels)`.
    With `within_clusters`, levels are sub-clusters of each identity cluster; without, they
    group all images regardless of their clusters.
    """
    groups = None
    project = None
    if isinstance(source, tuple):
        x, groups = source
        groups = np.asarray(groups) if within_clusters else None
    elif isinstance(source, np.ndarray):
        x = source
        if within_clusters:
            raise UserInputError("within-cluster clustering needs the cluster labels",
                                 fix="pass (embeddings, labels), or within_clusters=False.")
    else:
        project = source
        x = project.embeddings()
        if x is None:
            raise UserInputError("the project has no embeddings", file=project.folder,
                                 fix="create it with --embeddings to cluster its images.")
        if within_clusters:
            groups = np.array([r[0] for r in project.conn.execute(
                "SELECT cluster_id FROM images ORDER BY id")], dtype=np.int64)
    result = cluster_embeddings(x, thresholds, k=k, groups=groups, index=index, seed=seed,
                                ivf=ivf, progress=progress, cancel=cancel)
    if project is not None and store:
        store_clustering(project, result)
    return result


def list_images(folder: str | Path) -> list[str]:
    """Image files under `folder` (recursive, hidden entries skipped), as sorted relative POSIX
    paths: the row order an embeddings file for `cluster_folder_to_manifest` must follow."""
    root = Path(folder)
    if not root.is_dir():
        raise UserInputError("the image folder does not exist or is not a folder", file=root,
                             fix="pass a folder of face images.")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS:
                out.append((rel / f).as_posix())
    out.sort()
    if not out:
        raise UserInputError("no image files found", file=root,
                             fix="pass a folder that contains .jpg/.png face crops.")
    return out


@dataclass
class FolderClustering:
    manifest: Path
    images: int
    clusters: int
    singletons: int
    threshold: float


def cluster_folder_to_manifest(images: str | Path, embeddings: str | Path,
                               out_csv: str | Path, *, threshold: float = 0.5,
                               k: int = DEFAULT_K, index: str = "auto", seed: int = 0,
                               force: bool = False, prefix: str = "cluster_",
                               progress: ProgressCallback = no_progress,
                               cancel: CancelToken | None = None) -> FolderClustering:
    """Group a plain folder of face crops into identity clusters; write a `path,cluster` CSV.

    The embeddings rows follow `list_images(images)` order. Clusters are named
    `cluster_00001`, ... by decreasing size (ties: first image); the CSV loads with
    `fiqa-gui init --manifest`. Paths are relative to the CSV's folder where possible.
    """
    _validate_k(k)
    _validate_thresholds((threshold,))
    root = Path(images).absolute()
    emb_path = Path(embeddings)
    paths = list_images(root)
    protected = [emb_path, *(root / p for p in paths)]
    out_csv = guard_output(out_csv, force=force, protected=protected)
    x = load_embeddings(emb_path)
    validate_embeddings(x, emb_path, len(paths), row_names=paths)
    result = cluster_embeddings(x, (threshold,), k=k, index=index, seed=seed,
                                progress=progress, cancel=cancel)
    labels = result.labels[0]
    sizes = np.bincount(labels)
    first = np.full(len(sizes), len(labels))
    np.minimum.at(first, labels, np.arange(len(labels)))
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.lexsort((first, -sizes))] = np.arange(len(sizes))
    width = max(5, len(str(len(sizes))))
    base = out_csv.parent
    with atomic_file(out_csv, force=force, protected=protected) as f:
        w = csv.writer(f)
        w.writerow(["path", "cluster"])
        for i, rel in enumerate(paths):
            p = root / rel
            try:
                shown = Path(os.path.relpath(p, base)).as_posix()
            except ValueError:  # another drive (Windows)
                shown = p.as_posix()
            w.writerow([shown, f"{prefix}{rank[labels[i]] + 1:0{width}d}"])
    return FolderClustering(out_csv, len(paths), int(len(sizes)), int((sizes == 1).sum()),
                            float(threshold))
