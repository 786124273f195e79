"""Measure the diagnostics and `quality` against the demo's planted ground truth.

The demo manifest carries `scenario`, `true_quality`, `degradation` and `near_dup_group`; this
module turns a scored demo into the acceptance figures of the diagnostics issue, with the
one-good-many-poor result broken down by degradation kind (each kind fails differently).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fiqa_gui.core.ingest.dataset import Dataset


def acceptance_figures(ds: Dataset, columns: dict[str, np.ndarray],
                       cluster_flags: dict[int, list[str]],
                       image_flags: list[list[str]],
                       near_dup_group: np.ndarray) -> dict:
    """Figures keyed by name; cluster indices follow `ds.labels`."""
    scen = np.array(ds.attributes["scenario"])
    tq = np.array([float(v) for v in ds.attributes["true_quality"]])
    deg = np.array(ds.attributes["degradation"])
    labels = ds.labels
    out: dict = {}

    def clusters_with(s: str) -> list[int]:
        return sorted({int(c) for c in labels[scen == s]})

    trap = {c for c, f in cluster_flags.items() if "consistency_trap" in f}
    degraded, clean = clusters_with("consistent_degraded"), clusters_with("clean")
    out["trap_recall"] = float(np.mean([c in trap for c in degraded])) if degraded else None
    out["trap_fpr_clean"] = float(np.mean([c in trap for c in clean])) if clean else None
    out["trap_clusters"] = {"consistent_degraded": len(degraded), "clean": len(clean)}

    good_first: dict[str, dict[str, list[bool]]] = {}
    for c in clusters_with("one_good_many_poor"):
        members = np.flatnonzero(labels == c)
        good = members[np.argmax(tq[members])]
        kind = str(next(d for d in deg[members] if d != "none"))
        for name in ("quality", "sdd", "cr"):
            score = np.nan_to_num(columns[name][members], nan=-np.inf)
            hit = bool(members[np.argmax(score)] == good)
            good_first.setdefault(name, {}).setdefault(kind, []).append(hit)
    out["good_first"] = {name: float(np.mean(sum(kinds.values(), [])))
                         for name, kinds in good_first.items()}
    out["good_first_by_kind"] = {name: {k: f"{sum(v)}/{len(v)}" for k, v in sorted(kinds.items())}
                                 for name, kinds in good_first.items()}

    suspect = np.array(["identity_suspect" in f for f in image_flags])
    intruders = scen == "intruder"
    out["intruder_recall"] = float(suspect[intruders].mean()) if intruders.any() else None
    out["suspect_rate_others"] = float(suspect[~intruders].mean())

    truth = np.array(ds.attributes.get("near_dup_group", [""] * len(ds)))
    planted = [np.flatnonzero(truth == g) for g in sorted(set(truth) - {""})]
    grouped = [len(set(near_dup_group[ids])) == 1 and near_dup_group[ids[0]] >= 0
               for ids in planted]
    out["near_dup_groups_found"] = f"{sum(grouped)}/{len(planted)}"
    return out


def evaluate_demo(workdir: Path, *, seed: int = 0, n_clusters: int = 60) -> dict:
    """Generate the demo into `workdir`, score it (SDD, CR, cues, flags, quality), measure it."""
    from fiqa_gui.core.demo import generate_demo
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.labels.project_scoring import finish_scores
    from fiqa_gui.core.scoring.pipeline import ScoringParams, score_dataset

    manifest = generate_demo(Path(workdir), seed=seed, n_clusters=n_clusters)
    data = load_data(manifest=manifest, embeddings=manifest.parent / "embeddings.npy")
    ds = data.dataset
    res = score_dataset(data.embeddings, ds.labels, ds.cluster_names,
                        [str(p) for p in ds.absolute_paths()], ScoringParams(seed=seed))
    cols = {c: getattr(res, c) for c in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
    diag, anchored, _ = finish_scores(data.embeddings, ds.labels, cols,
                                      unreadable=res.unreadable)
    cols["quality"] = anchored.quality
    return acceptance_figures(ds, cols, diag.cluster_flags, diag.image_flags,
                              diag.near_dup_group)
