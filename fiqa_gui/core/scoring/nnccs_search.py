"""How CR finds each image's nearest other class centre (NNCCS): exact, or an inverted-file
index over the centres that checks its own recall before it is used.

The exact search (`cr.CentreIndex`) costs N·C·d: at MS1MV2 scale (5.8 M images, 85.7 k
identities) it is the largest cost of a run. The approximate search is a faiss IVF index
(inner product) over the C unit centres: each image is compared with the `nlist` list centroids
and the centres of the `nprobe` nearest lists only, then the winner is re-scored exactly in
float32, so NNCCS is always a true cosine — of the nearest centre found.

It is sound only if it finds the true nearest other centre, and whether it does depends on the
data: on face embeddings the centres are structured (look-alike identities lie together) and a
few lists hold the winner; on structureless random centres every centre is about as near as
another and no index can prune. So `plan` *measures* before it decides: it scores a seeded
sample of rows exactly and with the index at doubling `nprobe`, takes the smallest `nprobe`
whose recall on the sample is at least `SAMPLE_RECALL` (above the 99.5 % that is promised, so
that the sample's error leaves margin), and uses the index only when that `nprobe` scans at
most `MAX_SCANNED` of the centres (else exact is as fast). What it found — recall, max |ΔNNCCS|
on the sample, nlist, nprobe, or why exact — goes into the run's parameters.

Modes: `exact` (always; the reference in tests), `approx` (the index whenever it reaches the
recall, whatever it saves), `auto` (the index on the CPU when N·C ≥ `AUTO_MIN_WORK` and it
saves enough; exact otherwise — a GPU does N·C·d exactly faster than the index on the CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

MODES = ("exact", "approx", "auto")
AUTO_MIN_WORK = 2e9      # N·C below which auto stays exact (seconds at most, on two cores)
MIN_CENTRES = 1024       # fewer centres: exact is a small GEMM
SAMPLE_ROWS = 4096       # rows the recall is measured on
SAMPLE_RECALL = 0.999    # recall the sample must show (the promise is 0.995)
MAX_SCANNED = 0.25       # share of the centres an IVF search may scan and still be worth it
KMEANS_SEED = 1234


@dataclass
class SearchPlan:
    """The chosen search and the evidence for it (JSON-serialisable `info`)."""

    mode: str                          # 'exact' | 'ivf'
    info: dict = field(default_factory=dict)
    index_bytes: bytes | None = None   # the trained faiss index (sent to workers as is)


def n_lists(n_centres: int) -> int:
    """Inverted lists: ~4·√C, with at least ~39 centres per list for the k-means."""
    return int(max(1, min(4 * round(np.sqrt(n_centres)), n_centres // 39)))


def build_ivf(centres: np.ndarray, nlist: int):
    import faiss

    c = np.ascontiguousarray(centres, dtype=np.float32)
    quantizer = faiss.IndexFlatIP(c.shape[1])
    index = faiss.IndexIVFFlat(quantizer, c.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = KMEANS_SEED
    index.train(c)
    index.add(c)
    return index


class IVFCentreIndex:
    """`search(x, own)` like `cr.CentreIndex`, through a trained IVF index; rows for which the
    probed lists hold no valid other centre fall back to the exact index.

    faiss's quantizer picks each row's `nprobe` lists; the lists are then scanned here, one
    float32 GEMM per list over all the rows that probe it (faiss's own scan goes row by row:
    ~3× slower on two cores at MS1MV2's 84 k centres). A row's answer is the best centre of its
    probed lists other than its own and the dead ones — the same centres faiss would scan."""

    def __init__(self, index_bytes: bytes, nprobe: int, centres: torch.Tensor,
                 invalid: torch.Tensor | None, exact):
        import faiss

        self.index = faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8))
        self.index.nprobe = int(nprobe)
        self.centres = centres.float().contiguous()
        self.centres_cpu = self.centres.cpu()  # the list scan runs beside faiss, on the CPU
        dead = np.zeros(len(centres), dtype=bool)
        if invalid is not None and len(invalid):
            dead[invalid.cpu().numpy()] = True
        self.exact = exact
        # the lists' live centres, list by list (CSR), and where each centre sits in them
        lists, nlist = self.index.invlists, self.index.nlist
        members = []
        for li in range(nlist):
            size = lists.list_size(li)
            ids = (faiss.rev_swig_ptr(lists.get_ids(li), size).copy() if size
                   else np.zeros(0, dtype=np.int64))
            members.append(ids[~dead[ids]])
        sizes = np.array([len(m) for m in members], dtype=np.int64)
        self.list_start = np.concatenate([[0], np.cumsum(sizes)])
        flat = np.concatenate(members) if len(members) else np.zeros(0, dtype=np.int64)
        self.list_ids = torch.from_numpy(flat.astype(np.int64))
        self.list_of = np.full(len(centres), -1, dtype=np.int64)
        self.list_of[flat] = np.repeat(np.arange(nlist), sizes)
        self.pos_in_list = np.zeros(len(centres), dtype=np.int64)
        self.pos_in_list[flat] = np.arange(len(flat)) - np.repeat(self.list_start[:-1], sizes)

    @property
    def nprobe(self) -> int:
        return int(self.index.nprobe)

    def search(self, x: torch.Tensor, own: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xs = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        xf = torch.from_numpy(xs)
        _, probe = self.index.quantizer.search(xs, self.nprobe)  # (B, nprobe); -1: none
        b, p = probe.shape
        own_np = own.cpu().numpy()
        flat = probe.reshape(-1)
        order = np.argsort(flat, kind="stable")
        lists_sorted = flat[order]
        pair_row = order // p
        bounds = np.searchsorted(lists_sorted, np.arange(self.index.nlist + 1))
        best = torch.full((b * p,), float("-inf"))
        best_arg = torch.full((b * p,), -1, dtype=torch.int64)
        for li in np.flatnonzero(np.diff(bounds)):
            c0, c1 = self.list_start[li], self.list_start[li + 1]
            if c1 == c0:
                continue
            a0, a1 = bounds[li], bounds[li + 1]
            rows = pair_row[a0:a1]
            ids = self.list_ids[c0:c1]
            scores = xf[torch.from_numpy(rows)] @ self.centres_cpu[ids].T
            own_rows = own_np[rows]
            mine = np.flatnonzero(self.list_of[own_rows] == li)
            if len(mine):  # a row's own centre never counts
                scores[torch.from_numpy(mine),
                       torch.from_numpy(self.pos_in_list[own_rows[mine]])] = float("-inf")
            v, j = scores.max(dim=1)
            at = torch.from_numpy(order[a0:a1])
            best[at] = v
            best_arg[at] = ids[j]
        top, k = best.view(b, p).max(dim=1)
        arg = best_arg.view(b, p).gather(1, k[:, None])[:, 0]
        miss = ~torch.isfinite(top)
        arg[miss] = -1
        ok = ~miss
        top = top.to(x.device)
        arg_t = arg.to(x.device)
        ok_t = ok.to(x.device)
        top[ok_t] = (x[ok_t].float() * self.centres[arg_t[ok_t]]).sum(dim=1)  # float32 re-score
        if miss.any():
            rows = torch.nonzero(miss).flatten().to(x.device)
            t, a = self.exact.search(x[rows], own[rows])
            top[rows], arg_t[rows] = t, a
        return top, arg_t


def _info(mode: str, n_centres: int, n_rows: int) -> dict:
    return {"requested": mode, "centres": n_centres, "rows_x_centres": float(n_rows) * n_centres}


def without_sample(mode: str, n_centres: int, n_rows: int,
                   device: torch.device) -> SearchPlan | None:
    """The decision when it needs no measurement (exact), or None: measure (`plan`)."""
    if mode not in MODES:
        raise ValueError(f"NNCCS search must be one of {', '.join(MODES)}, not {mode!r}")
    info = _info(mode, n_centres, n_rows)
    work = info["rows_x_centres"]
    why = None
    if mode == "exact":
        why = "asked for"
    elif n_centres < MIN_CENTRES:
        why = f"fewer than {MIN_CENTRES} centres"
    elif mode == "auto" and device.type != "cpu":
        why = f"on {device.type} the exact search is faster"
    elif mode == "auto" and work < AUTO_MIN_WORK:
        why = f"N·C = {work:.3g} < {AUTO_MIN_WORK:.0e}: exact takes seconds"
    return SearchPlan("exact", {**info, "used": "exact", "why": why}) if why else None


def plan(mode: str, centres: np.ndarray, invalid: np.ndarray | None, sample_x: np.ndarray,
         sample_own: np.ndarray, n_rows: int, device: torch.device, exact_index) -> SearchPlan:
    """Decide exact or IVF for `n_rows` rows over `centres` by measuring (see the module
    docstring), where `without_sample` could not decide without it.

    `sample_x`/`sample_own`: unit rows of a seeded sample and their clusters; `exact_index`: a
    `cr.CentreIndex` over the same centres (the reference the sample is checked against)."""
    c = len(centres)
    info = _info(mode, c, n_rows)
    import faiss

    nlist = n_lists(c)
    index = build_ivf(centres, nlist)
    x_t = torch.from_numpy(np.ascontiguousarray(sample_x, dtype=np.float32)).to(device)
    own_t = torch.from_numpy(np.asarray(sample_own, dtype=np.int64)).to(device)
    ref_top, ref_arg = (v.cpu().numpy() for v in exact_index.search(x_t, own_t))
    data = faiss.serialize_index(index).tobytes()
    cen_t = torch.from_numpy(np.ascontiguousarray(centres, dtype=np.float32)).to(device)
    inv_t = torch.from_numpy(np.asarray(invalid, dtype=np.int64)) if invalid is not None \
        else None
    tried = []
    nprobe = 1
    ivf = IVFCentreIndex(data, nprobe, cen_t, inv_t, exact_index)
    while nprobe <= nlist:
        ivf.index.nprobe = nprobe
        top, arg = (v.cpu().numpy() for v in ivf.search(x_t, own_t))
        # a different centre with the same cosine (to float32) is as good a winner
        hit = (arg == ref_arg) | (np.abs(top - ref_top) <= 1e-6)
        recall = float(hit.mean())
        scanned = (nlist + nprobe * c / nlist) / c
        tried.append({"nprobe": nprobe, "recall": round(recall, 5),
                      "scanned": round(scanned, 4)})
        if recall >= SAMPLE_RECALL:
            dnn = float(np.max(np.abs(top - ref_top))) if len(top) else 0.0
            base = {**info, "nlist": nlist, "nprobe": nprobe, "sample_rows": len(x_t),
                    "sample_recall": recall, "sample_max_abs_dnnccs": dnn, "scanned": scanned,
                    "tried": tried}
            if mode == "auto" and scanned > MAX_SCANNED:
                return SearchPlan("exact", {**base, "used": "exact",
                                            "why": f"the index reaches recall {recall:.4f} "
                                                   f"only scanning {scanned:.0%} of the "
                                                   "centres: no faster than exact"})
            return SearchPlan("ivf", {**base, "used": "ivf",
                                      "why": f"recall {recall:.4f} on {len(x_t):,} sampled "
                                             f"rows scanning {scanned:.1%} of the centres"},
                              data)
        if mode == "auto" and scanned > MAX_SCANNED:
            break
        nprobe *= 2
    return SearchPlan("exact", {**info, "used": "exact", "nlist": nlist, "tried": tried,
                                "why": f"the index did not reach recall {SAMPLE_RECALL} on the "
                                       "sample within its scan budget (structureless centres?)"})


def sample_rows(n: int, seed: int = 0, k: int | None = None) -> np.ndarray:
    """A seeded, sorted sample of `k` (default `SAMPLE_ROWS`) row ids (all rows when fewer)."""
    k = SAMPLE_ROWS if k is None else k
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 0x4E4E]).choice(n, k, replace=False))
