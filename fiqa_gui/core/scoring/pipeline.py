"""One scoring run: SDD, CR and image cues for a dataset, with flags and the run's parameters."""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.memory import release_freed
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.scoring import sdd as sdd_mod
from fiqa_gui.core.scoring.cr import cr_scores, load_head
from fiqa_gui.core.scoring.device import resolve_device
from fiqa_gui.core.scoring.flag_lists import FlagLists
from fiqa_gui.core.scoring.image_quality import CUES, compute_image_cues

FLAG_SINGLETON = "singleton"  # cluster of one image: no positives, no leave-one-out centre
FLAG_UNREADABLE = "unreadable"  # the image file could not be decoded
FLAG_IDENTITY_SUSPECT = "identity_suspect"  # sdd_signed < 0: positives below negatives
PIPELINE_FLAGS = (FLAG_SINGLETON, FLAG_UNREADABLE, FLAG_IDENTITY_SUSPECT)  # a row's order


@dataclass
class ScoringParams:
    """What a scoring run was asked to do; stored with every run."""

    repeats: int = 12
    negatives: int = 24
    positives: int = 24
    seed: int = 0
    exact: bool = False
    device: str = "auto"
    head_path: str | None = None
    image_cues: bool = True
    workers: int | None = None
    nnccs: str = "auto"  # CR's nearest-other-centre search (`nnccs_search.MODES`)


@dataclass
class ScoreResult:
    """Per-row score columns (caller's row order) and the run's metadata."""

    sdd: np.ndarray
    sdd_signed: np.ndarray
    cr: np.ndarray
    ccs: np.ndarray
    nnccs: np.ndarray
    iq: np.ndarray
    cues: dict[str, np.ndarray]  # raw image cues (NaN when not computed or unreadable)
    flags: FlagLists  # reads as a list of flag lists, one per row
    device: str
    seconds: float
    params: ScoringParams
    unreadable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    nn_cluster: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sdd_raw: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    stage_seconds: dict[str, float] = field(default_factory=dict)
    backend: dict = field(default_factory=lambda: {"kind": "one process"})
    nnccs_search: dict = field(default_factory=lambda: {"used": "exact"})

    def __len__(self) -> int:
        return len(self.sdd)

    def columns(self) -> dict[str, np.ndarray]:
        """All per-row numeric columns by name (score columns, then the cues)."""
        cols = {"sdd": self.sdd, "sdd_signed": self.sdd_signed, "cr": self.cr, "ccs": self.ccs,
                "nnccs": self.nnccs, "iq": self.iq}
        cols.update(self.cues)
        return cols

    def params_dict(self) -> dict:
        """Everything needed to reproduce or audit the run (JSON-serialisable)."""
        d = dataclasses.asdict(self.params)
        d.update({
            "resolved_device": self.device,
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "backend": self.backend,
            "nnccs_search": self.nnccs_search,
            "sdd_normalisation": "none (exact W1)" if self.params.exact else
            "per-repetition min-max to [0,100], mean over repetitions",
            "sdd_signed": "sign(mean P - mean N) applied to each normalised repetition",
            "cr_form": "CCS / (NNCCS + 1 + 1e-9)",
            "cr_centres": "head" if self.params.head_path else "leave-one-out class means",
            "chunk_rows": sdd_mod.CHUNK_ROWS, "reps_per_pool": sdd_mod.REPS_PER_POOL,
            "exact_all_max": sdd_mod.EXACT_ALL_MAX, "exact_pool": sdd_mod.EXACT_POOL,
            "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(),
        })
        return d


def _validate(embeddings: np.ndarray, labels: np.ndarray, cluster_names: list[str],
              image_paths: list[str] | None) -> np.ndarray:
    if getattr(embeddings, "ndim", 0) != 2:
        raise UserInputError(f"embeddings must be a 2-D array (N×d), got shape "
                             f"{tuple(getattr(embeddings, 'shape', ()))}")
    n = embeddings.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise UserInputError(f"{labels.size} cluster labels for {n} embedding rows",
                             fix="give one cluster per embedding row, in the same order")
    if not np.issubdtype(labels.dtype, np.integer):
        raise UserInputError("cluster labels must be integer cluster indices")
    labels = labels.astype(np.int64, copy=False)
    bad = np.flatnonzero((labels < 0) | (labels >= len(cluster_names)))
    if len(bad):
        raise UserInputError(f"cluster index out of range 0..{len(cluster_names) - 1}",
                             rows=bad[:20].tolist(), row_kind="array row")
    if image_paths is not None and len(image_paths) != n:
        raise UserInputError(f"{len(image_paths)} image paths for {n} embedding rows")
    if len(np.unique(labels)) < 2:
        raise UserInputError("only one cluster in the data: SDD negatives impossible and CR "
                             "has no other class centre",
                             fix="score a dataset with at least two clusters")
    return labels


def score_dataset(embeddings: np.ndarray, labels: np.ndarray, cluster_names: list[str],
                  image_paths: list[str] | None, params: ScoringParams | None = None,
                  progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                  backend=None) -> ScoreResult:
    """Score every row: SDD (+ signed), CR (CCS, NNCCS), image cues and `iq`, flags.

    `embeddings` is N×d float32/float16, possibly an np.memmap: it is only read in chunks.
    `labels[i]` is the index of row i's cluster in `cluster_names`. `backend` runs SDD and CR
    elsewhere with the same results (`distributed.RayBackend`: `sdd_scores` and `cr_scores`
    with the signatures of the local functions); None scores in this process.
    """
    t0 = time.perf_counter()
    params = params or ScoringParams()
    progress = progress or no_progress
    labels = _validate(embeddings, labels, cluster_names, image_paths)
    dev = resolve_device(params.device)
    n, dim = embeddings.shape
    head = load_head(params.head_path, cluster_names, dim) if params.head_path else None
    stages: dict[str, float] = {}

    t = time.perf_counter()
    sdd_fn = backend.sdd_scores if backend is not None else sdd_mod.sdd_scores
    cr_fn = backend.cr_scores if backend is not None else cr_scores
    sres = sdd_fn(embeddings, labels, repeats=params.repeats, negatives=params.negatives,
                  positives=params.positives, seed=params.seed, exact=params.exact, device=dev,
                  progress=progress, cancel=cancel)
    stages["sdd"] = time.perf_counter() - t
    # what the result keeps of SDD; its per-repetition signs and draw counts (N×K + 2N) are
    # not held through CR
    sres = dataclasses.replace(sres, sign=sres.sign[:0], n_positives=sres.n_positives[:0],
                               n_negatives=sres.n_negatives[:0])
    release_freed()  # SDD's draw plan and per-chunk buffers, back to the OS before CR's centres
    t = time.perf_counter()
    cres = cr_fn(embeddings, labels, n_clusters=len(cluster_names), head=head, device=dev,
                 progress=progress, cancel=cancel, nnccs=params.nnccs)
    stages["cr"] = time.perf_counter() - t

    # without pixel cues every cue column is the same read-only NaN column (not one each)
    not_measured = np.full(n, np.nan, dtype=np.float32)
    not_measured.flags.writeable = False
    cues = dict.fromkeys(CUES, not_measured)
    iq = not_measured
    unreadable = np.zeros(n, dtype=bool)
    if params.image_cues and image_paths is not None:
        t = time.perf_counter()
        res = compute_image_cues(image_paths, workers=params.workers, progress=progress,
                                 cancel=cancel)
        cues = {k: res[k] for k in CUES}
        iq, unreadable = res["iq"], res["unreadable"]
        stages["image_cues"] = time.perf_counter() - t

    counts = np.bincount(labels, minlength=len(cluster_names))
    singleton = counts[labels] < 2
    with np.errstate(invalid="ignore"):
        suspect = sres.sdd_signed < 0
    flags = FlagLists.empty(n, PIPELINE_FLAGS)
    for name, mask in zip(PIPELINE_FLAGS, (singleton, unreadable, suspect), strict=True):
        flags.set(name, mask)
    return ScoreResult(sdd=sres.sdd, sdd_signed=sres.sdd_signed, cr=cres.cr, ccs=cres.ccs,
                       nnccs=cres.nnccs, iq=iq, cues=cues, flags=flags, device=str(dev),
                       seconds=time.perf_counter() - t0, params=params, unreadable=unreadable,
                       nn_cluster=cres.nn_cluster, sdd_raw=sres.raw, stage_seconds=stages,
                       backend=backend.describe() if backend is not None else
                       {"kind": "one process"},
                       nnccs_search=cres.params.get("nnccs_search", {"used": "exact"}))
