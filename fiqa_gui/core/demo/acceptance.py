"""Measure the diagnostics and `quality` against the demo's planted ground truth.

The demo manifest carries `scenario`, `true_quality`, `degradation` and `near_dup_group`; this
module turns a scored demo into the acceptance figures of the diagnostics issue, with the
consistency-trap and one-good-many-poor results broken down by degradation kind (each kind fails
differently). `sweep` measures the same figures across data-set make-ups: the share of
consistently degraded clusters, a spread and a bunched embedding model, raw and mean-centred
embeddings. Images are rendered once per share (pixels do not depend on the embedding model);
each model × centring point reuses them.
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
    # every cluster of at least 3 images whose typical (median) image is clean: clean, mixed,
    # near-duplicate and intruder-hosting clusters — a trap flag on any of them is false
    typical_clean = [c for c in range(int(labels.max()) + 1)
                     if (labels == c).sum() >= 3 and np.median(tq[labels == c]) >= 100.0
                     and not (scen[labels == c] == "consistent_degraded").any()]
    out["trap_fpr"] = float(np.mean([c in trap for c in typical_clean])) \
        if typical_clean else None
    out["trap_clusters"] = {"consistent_degraded": len(degraded), "clean": len(clean),
                            "typically_clean": len(typical_clean)}
    by_kind: dict[str, list[bool]] = {}
    for c in degraded:
        kind = str(deg[labels == c][0])
        by_kind.setdefault(kind, []).append(c in trap)
    out["trap_recall_by_kind"] = {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())}

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


SWEEP_SHARES = (0.10, 0.30, 0.50, 0.75)
SWEEP_KINDS = ("blur", "lowres", "noise", "jpeg")  # the kinds of the real-photo check
SWEEP_MODELS = ("spread", "bunched")
SWEEP_CENTRINGS = ("raw", "centred")
SWEEP_CLUSTERS = 80
SWEEP_ONE_GOOD = 8
GOAL = {"trap_recall": 0.9, "trap_fpr": 0.05, "good_first_quality": 0.9}


def evaluate_demo(workdir: Path, *, seed: int = 0, n_clusters: int = 60) -> dict:
    """Generate the demo into `workdir`, score it (SDD, CR, cues, flags, quality), measure it."""
    from fiqa_gui.core.demo import generate_demo
    from fiqa_gui.core.ingest.loading import load_data

    manifest = generate_demo(Path(workdir), seed=seed, n_clusters=n_clusters)
    data = load_data(manifest=manifest, embeddings=manifest.parent / "embeddings.npy")
    ds = data.dataset
    paths = [str(p) for p in ds.absolute_paths()]
    return _score_and_measure(ds, data.embeddings, paths, seed=seed)


def _score_and_measure(ds: Dataset, embeddings: np.ndarray, paths: list[str], *, seed: int,
                       pixels=None) -> dict:
    """Score (SDD, CR; pixel cues unless `pixels` = (cues, calibration) is given), flag,
    compute `quality` and measure it against the planted truth."""
    from fiqa_gui.core.labels.project_scoring import finish_scores
    from fiqa_gui.core.labels.self_calibration import calibrate_iq
    from fiqa_gui.core.scoring.pipeline import ScoringParams, score_dataset

    res = score_dataset(embeddings, ds.labels, ds.cluster_names,
                        paths if pixels is None else None,
                        ScoringParams(seed=seed, image_cues=pixels is None))
    cols = {c: getattr(res, c) for c in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
    if pixels is None:
        pixels = ({**res.cues, "iq": cols["iq"]}, calibrate_iq(paths, cols["iq"], seed=seed))
    cues, cal = pixels
    cols["iq"] = np.asarray(cues["iq"], dtype=float)
    diag, anchored, _ = finish_scores(embeddings, ds.labels, cols, unreadable=res.unreadable,
                                      iq_poor=cal.iq_poor if cal else None,
                                      iq_good=cal.iq_good if cal else None,
                                      luminance_variance=cues.get("luminance_variance"),
                                      cluster_names=ds.cluster_names,
                                      nn_cluster=res.nn_cluster, calibration=cal, cues=cues)
    cols["quality"] = anchored.quality
    out = acceptance_figures(ds, cols, diag.cluster_flags, diag.image_flags,
                             diag.near_dup_group)
    out["scale"] = {"method": diag.scale.method, "iq_poor": cal.iq_poor if cal else None,
                    "good": int(len(diag.scale.good)), "poor": int(len(diag.scale.poor))}
    return out


def sweep_share(workdir: Path, share: float, *, seed: int = 0,
                n_clusters: int = SWEEP_CLUSTERS, models=SWEEP_MODELS,
                centrings=SWEEP_CENTRINGS, workers: int | None = None) -> list[dict]:
    """Every model × centring point of one share of consistently degraded clusters.

    The planted degraded clusters use `SWEEP_KINDS`; `SWEEP_ONE_GOOD` one-good-many-poor
    clusters are kept at every share so "good image first" is measured on the same number.
    """
    from fiqa_gui.core.demo import generate_demo
    from fiqa_gui.core.demo.embedding_model import bunched_model
    from fiqa_gui.core.demo.generate import embed_specs
    from fiqa_gui.core.demo.scenarios import MakeUp, plan_dataset
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.labels.self_calibration import calibrate_iq
    from fiqa_gui.core.scoring.image_quality import compute_image_cues

    make_up = MakeUp(degraded_share=share, kinds=SWEEP_KINDS,
                     one_good_many_poor=SWEEP_ONE_GOOD)
    manifest = generate_demo(Path(workdir), seed=seed, n_clusters=n_clusters, make_up=make_up,
                             workers=workers)
    data = load_data(manifest=manifest, embeddings=manifest.parent / "embeddings.npy")
    ds = data.dataset
    paths = [str(p) for p in ds.absolute_paths()]
    cues = compute_image_cues(paths, workers=workers)
    cal = calibrate_iq(paths, np.asarray(cues["iq"], dtype=float), seed=seed)
    pixels = (cues, cal)
    specs = plan_dataset(seed, n_clusters, make_up)
    points = []
    for model in models:
        emb = np.asarray(data.embeddings) if model == "spread" else \
            embed_specs(specs, seed, model=bunched_model(seed))
        for centring in centrings:
            x = emb.astype(np.float64)
            if centring == "centred":  # the mean row subtracted, rows not re-normalised
                x = x - x.mean(axis=0)
            fig = _score_and_measure(ds, x.astype(np.float32), paths, seed=seed, pixels=pixels)
            fig.update({"share": share, "model": model, "centring": centring, "seed": seed})
            fig["at_goal"] = at_goal(fig)
            points.append(fig)
    return points


def at_goal(fig: dict) -> bool:
    """Trap recall ≥ 0.9 at FPR ≤ 0.05 and `quality` puts the good image first in ≥ 0.9."""
    return (fig["trap_recall"] is not None and fig["trap_recall"] >= GOAL["trap_recall"]
            and fig["trap_fpr"] is not None and fig["trap_fpr"] <= GOAL["trap_fpr"]
            and fig["good_first"]["quality"] >= GOAL["good_first_quality"])
