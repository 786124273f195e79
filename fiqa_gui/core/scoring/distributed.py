"""SDD and CR sharded over a Ray cluster, with exactly the labels of one process.

Why the results are the same whatever the number of workers: SDD's draw plan (`sdd.build_plan`)
depends only on the labels and (p_max, m), and every draw of a chunk comes from a generator keyed
by (seed, stream, chunk, repetition) — a counter-based scheme over the plan, not over processes
or time. A shard is a list of whole chunks, so each image gets the draws it gets in one process;
the per-repetition min-max, which needs every image, runs after the raw W1 values are gathered
(`sdd.sdd_from_raw`). CR's values for a row depend on that row and the class centres only: the
driver makes the centres in one streaming pass (`cr.cr_centres`, the same code as one process),
puts them in the object store once, and the workers score row ranges (`cr.CRRowScorer`). Each
task runs its arithmetic on one torch thread, as the one-process run does per chunk, so the
numbers agree to the bit on the same hardware (tests hold them to 1e-6).

Embeddings reach the workers by path when they are a memory-mapped ``.npy`` (every node must see
that path: a shared file system), else the array is put in the object store once. Tasks are
retried `retries` times when a worker dies; after that the run stops with a message naming the
failure (exit 2 on the command line), and nothing has been written. Progress counts finished
rows; Cancel cancels the outstanding tasks.

Ray is an optional extra (``pip install 'fiqa-gui[ray]'``); ``address="local"`` starts a
private local cluster of `workers` CPU slots, any other address joins an existing cluster
(``ray start --head`` on the head node; see the README).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import numpy as np
import torch

from fiqa_gui.core.errors import Cancelled, UserInputError
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.scoring import cr as cr_mod
from fiqa_gui.core.scoring import sdd as sdd_mod
from fiqa_gui.core.scoring.device import load_normalized, resolve_device

FAULT_ENV = "FIQA_RAY_FAULT"  # test hook: "once:DIR" kills the first task attempt, "always"
CONNECT_TIMEOUT_S = 5.0
TASKS_PER_WORKER = 4  # shards per worker slot: balances uneven chunks, keeps progress moving


def require_ray():
    """The `ray` module, or a clear message naming the extra."""
    try:
        import ray
    except ImportError:
        raise UserInputError("--ray needs Ray, which is not installed",
                             fix="install the extra: pip install 'fiqa-gui[ray]' "
                                 "(or pip install ray).") from None
    return ray


@dataclass
class RayOptions:
    address: str = "local"
    workers: int = 2
    gpus_per_worker: float = 0.0
    retries: int = 2


def _check_reachable(address: str) -> None:
    """Refuse an address nothing listens on within seconds (Ray itself would wait minutes)."""
    if address in ("auto",):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UserInputError(f"the Ray address {address!r} is not HOST:PORT",
                             fix="give the head node's address, e.g. --ray 10.0.0.5:6379, or "
                                 "--ray local for a cluster on this machine.")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        raise UserInputError(f"cannot reach the Ray cluster at {address} ({err})",
                             fix="start it with 'ray start --head' on the head node and pass "
                                 "the address it prints, or use --ray local.") from None


def fault_injection() -> None:
    """Die like a crashed worker when the test hook asks for it (never set in normal use)."""
    spec = os.environ.get(FAULT_ENV, "")
    if spec == "always":
        os._exit(3)
    if spec.startswith("once:"):
        marker = os.path.join(spec[5:], "killed")
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(3)


def open_embeddings(source):
    """The rows behind an `embeddings_source` (inside a task)."""
    kind, value = source
    if kind == "path":
        try:
            return np.load(value, mmap_mode="r")
        except OSError as err:
            raise RuntimeError(f"the worker on {socket.gethostname()} cannot read the "
                               f"embeddings at {value} ({err}): put them on a path every "
                               "node mounts") from None
    import ray

    # nested in the tuple, the reference is not resolved by Ray itself
    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def _sdd_task(source, labels, chunk_ids, kw):
    fault_injection()
    torch.set_num_threads(1)
    emb = open_embeddings(source)
    items = sdd_mod.sampled_chunks(emb, labels, chunk_ids, **kw)
    rows = np.concatenate([it.rows for it in items])
    raw = np.concatenate([it.raw for it in items])
    sign = np.concatenate([it.sign for it in items])
    npos = np.concatenate([np.full(len(it.rows), it.n_positives, np.int32) for it in items])
    nneg = np.concatenate([np.full(len(it.rows), it.n_negatives, np.int32) for it in items])
    return rows, raw, sign, npos, nneg


def _cr_task(source, labels, lo, hi, centres, device, step):
    fault_injection()
    torch.set_num_threads(1)
    emb = open_embeddings(source)
    dev = resolve_device(device)
    scorer = cr_mod.CRRowScorer(centres, dev)
    parts = []
    with torch.inference_mode():
        for a in range(lo, hi, step):
            rows = np.arange(a, min(hi, a + step))
            parts.append(scorer.score(load_normalized(emb, rows, dev), labels[rows]))
    return lo, hi, *(np.concatenate(p) for p in zip(*parts, strict=True))


def balanced_shards(sizes: np.ndarray, n_shards: int) -> list[np.ndarray]:
    """Chunk ids split into at most `n_shards` contiguous groups of about equal rows."""
    if len(sizes) == 0:
        return []
    bounds = np.searchsorted(np.cumsum(sizes), np.linspace(0, sizes.sum(), n_shards + 1)[1:-1],
                             side="left")
    return [g for g in np.split(np.arange(len(sizes)), np.unique(bounds + 1)) if len(g)]


class RayBackend:
    """`sdd_scores` and `cr_scores` with the local signatures, run as Ray tasks."""

    def __init__(self, options: RayOptions | None = None):
        self.options = options or RayOptions()
        if self.options.workers < 1:
            raise UserInputError(f"--ray-workers must be at least 1 (got {self.options.workers})")
        if self.options.gpus_per_worker < 0:
            raise UserInputError("--ray-gpus-per-worker must not be negative")
        if self.options.retries < 0:
            raise UserInputError("--ray-retries must not be negative")
        self.ray = require_ray()
        self._started = False
        self._remote = {}
        self.retried = 0

    # ----------------------------------------------------------------- cluster
    def start(self) -> None:
        if self._started:
            return
        ray, opt = self.ray, self.options
        env = {k: os.environ[k] for k in (FAULT_ENV,) if k in os.environ}
        runtime_env = {"env_vars": env} if env else None
        if opt.address == "local":
            ray.init(num_cpus=opt.workers, num_gpus=None, include_dashboard=False,
                     log_to_driver=False, configure_logging=False, runtime_env=runtime_env)
        else:
            _check_reachable(opt.address)
            ray.init(address=opt.address, log_to_driver=False, configure_logging=False,
                     runtime_env=runtime_env)
        self._started = True

    def _task(self, fn):
        """`fn` as a Ray remote function: one CPU slot (and the GPUs asked for), retried."""
        if fn not in self._remote:
            opt = self.options
            res = {"num_cpus": 1, "max_retries": opt.retries, "retry_exceptions": False}
            if opt.gpus_per_worker:
                res["num_gpus"] = opt.gpus_per_worker
            self._remote[fn] = self.ray.remote(**res)(fn)
        return self._remote[fn]

    def map_tasks(self, fn, arg_lists: list[tuple], what: str, n: int, on_result,
                  progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None) -> None:
        """Run `fn(*args)` for every tuple as tasks; `on_result(out)` returns rows done."""
        self.start()
        task = self._task(fn)
        futures = [task.remote(*args) for args in arg_lists]
        progress(0, n, what)
        self._gather(futures, what, n, on_result, progress, cancel)

    def put(self, value):
        """A value shared by every task, sent through the object store once."""
        self.start()
        return self.ray.put(value)

    @property
    def slots(self) -> int:
        return self.options.workers

    def shutdown(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def describe(self) -> dict:
        o = self.options
        return {"kind": "ray", "address": o.address, "workers": o.workers,
                "gpus_per_worker": o.gpus_per_worker, "retries": o.retries}

    def embeddings_source(self, embeddings):
        """How tasks reach the rows: ('path', file) for a memory-mapped .npy, else
        ('ref', object) — open it in a task with `open_embeddings`."""
        self.start()
        return self._source(embeddings)

    def _source(self, embeddings):
        name = getattr(embeddings, "filename", None)
        if name and str(name).endswith(".npy") and os.path.exists(name):
            again = np.load(name, mmap_mode="r")
            if again.shape == embeddings.shape and again.dtype == embeddings.dtype:
                return ("path", str(name))
        return ("ref", self.ray.put(np.ascontiguousarray(embeddings)))

    def _gather(self, futures: list, what: str, n: int, on_result, progress,
                cancel: CancelToken | None) -> None:
        ray = self.ray
        pending = list(futures)
        done_rows = 0
        while pending:
            if cancel is not None and cancel.cancelled:
                for f in pending:
                    ray.cancel(f, force=True)
                raise Cancelled()
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.2)
            for f in ready:
                try:
                    out = ray.get(f)
                except ray.exceptions.RayError as err:
                    for g in pending:
                        ray.cancel(g, force=True)
                    lines = str(err).strip().splitlines() or [type(err).__name__]
                    # the task's name, and the worker's own exception (its last line)
                    first = lines[0][:200] + (f" — {lines[-1].strip()[:300]}"
                                              if len(lines) > 1 else "")
                    raise UserInputError(
                        f"a Ray worker failed on the {what} after {self.options.retries} "
                        f"retr{'y' if self.options.retries == 1 else 'ies'}: {first}",
                        fix="see the workers' logs (ray logs; /tmp/ray/session_latest/logs), "
                            "or run without --ray; nothing was written.") from None
                done_rows += on_result(out)
                progress(done_rows, n, what)

    # ----------------------------------------------------------------- SDD
    def sdd_scores(self, embeddings, labels, *, repeats: int = 12, negatives: int = 24,
                   positives: int = 24, seed: int = 0, exact: bool = False, device="auto",
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None):
        if exact:
            raise UserInputError("--exact is not sharded (it is the small-data reference)",
                                 fix="leave out --ray, or --exact.")
        progress = progress or no_progress
        t0 = time.perf_counter()
        labels = sdd_mod._validate(embeddings, labels)
        self.start()
        dev = resolve_device(device)
        n = len(labels)
        sizes = sdd_mod.chunk_sizes(labels, positives, negatives)
        shards = balanced_shards(sizes, self.options.workers * TASKS_PER_WORKER)
        source = self._source(embeddings)
        labels_ref = self.ray.put(labels)
        kw = {"repeats": repeats, "negatives": negatives, "positives": positives,
              "seed": seed, "device": "cpu" if dev.type == "cpu" else "cuda"}
        raw = np.full((n, repeats), np.nan, dtype=np.float32)
        sign = np.zeros((n, repeats), dtype=np.int8)
        npos = np.zeros(n, dtype=np.int32)
        nneg = np.zeros(n, dtype=np.int32)

        def put(out) -> int:
            rows, w, s, p, m = out
            raw[rows], sign[rows], npos[rows], nneg[rows] = w, s, p, m
            return len(rows)

        self.map_tasks(_sdd_task, [(source, labels_ref, ids.tolist(), kw) for ids in shards],
                       "SDD", n, put, progress, cancel)
        return sdd_mod.sdd_from_raw(raw, sign, npos, nneg, labels, repeats=repeats,
                                    negatives=negatives, positives=positives, seed=seed,
                                    exact=False, device=f"ray:{kw['device']}",
                                    seconds=time.perf_counter() - t0)

    # ----------------------------------------------------------------- CR
    def cr_scores(self, embeddings, labels, *, n_clusters: int | None = None, head=None,
                  device="auto", progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None, nnccs: str = "exact"):
        progress = progress or no_progress
        t0 = time.perf_counter()
        labels = np.asarray(labels).astype(np.int64, copy=False)
        n = embeddings.shape[0]
        c_total = int(n_clusters if n_clusters is not None else labels.max() + 1)
        counts = np.bincount(labels, minlength=c_total)
        if np.count_nonzero(counts) < 2:
            raise UserInputError("only one cluster in the data: CR needs other class centres",
                                 fix="score a dataset with at least two clusters")
        self.start()
        dev = resolve_device(device)
        with torch.inference_mode():
            centres = cr_mod.cr_centres(embeddings, labels, counts, head, torch.device("cpu"),
                                        progress, cancel)
            # decided once, on the driver's CPU (auto stays exact for GPU workers); the
            # trained index travels with the centres to every worker
            mode = "exact" if nnccs == "auto" and dev.type != "cpu" else nnccs
            centres = cr_mod.plan_search(centres, embeddings, labels, mode, torch.device("cpu"))
        centres_ref = self.ray.put(centres)  # broadcast once through the object store
        source = self._source(embeddings)
        labels_ref = self.ray.put(labels)
        step = cr_mod.cr_step(dev, c_total, centres.search)
        per = max(step, -(-n // (self.options.workers * TASKS_PER_WORKER)))
        per = -(-per // step) * step  # whole CR chunks per task
        devname = "cpu" if dev.type == "cpu" else "cuda"
        args = [(source, labels_ref, lo, min(n, lo + per), centres_ref, devname, step)
                for lo in range(0, n, per)]
        ccs = np.empty(n, dtype=np.float32)
        nnccs = np.empty(n, dtype=np.float32)
        nn_cluster = np.empty(n, dtype=np.int64)

        def put(out) -> int:
            lo, hi, c, t, g = out
            ccs[lo:hi], nnccs[lo:hi], nn_cluster[lo:hi] = c, t, g
            return hi - lo

        self.map_tasks(_cr_task, args, "CR", n, put, progress, cancel)
        return cr_mod.cr_from_parts(ccs, nnccs, nn_cluster, labels, counts, head is not None,
                                    f"ray:{devname}", time.perf_counter() - t0,
                                    centres.search)
