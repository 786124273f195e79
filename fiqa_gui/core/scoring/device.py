"""Device choice and chunked, normalised reads of (possibly memory-mapped) embeddings."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import torch

from fiqa_gui.core.errors import Cancelled, UserInputError
from fiqa_gui.core.progress import CancelToken

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, in words; None when it can."""
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return (f"this PyTorch build ({torch.__version__}) has no CUDA support "
                "(a CPU-only wheel is installed)")
    if not torch.cuda.is_available():
        vis = os.environ.get("CUDA_VISIBLE_DEVICES")
        hint = f" (CUDA_VISIBLE_DEVICES={vis!r})" if vis is not None else ""
        return f"PyTorch was built with CUDA but no usable GPU or driver was found{hint}"
    return None


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """`auto`: CUDA when usable, else CPU; `cpu`; `cuda` / `cuda:N` (UserInputError if not)."""
    if isinstance(name, torch.device):
        name = str(name)
    key = (name or "auto").strip().lower()
    if key == "auto":
        return torch.device("cuda") if cuda_unavailable_reason() is None else torch.device("cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise UserInputError(f"device 'cuda' requested but {reason}.",
                                 fix="use --device cpu or --device auto")
        dev = torch.device(key)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserInputError(f"device {key!r} does not exist: "
                                 f"{torch.cuda.device_count()} CUDA device(s) visible.",
                                 fix="use --device cuda (the first GPU) or --device auto")
        return dev
    raise UserInputError(f"unknown device {name!r}.", fix="use one of auto, cpu, cuda")


def normalize_rows_(t: torch.Tensor, rows: np.ndarray | None = None) -> torch.Tensor:
    """L2-normalise the rows of a float tensor in place; an all-zero row stays zero.

    With `rows` (the array rows they came from), a NaN/inf value raises UserInputError naming
    the row: a non-finite element makes its row norm non-finite, so one check per row suffices.
    """
    norms = torch.linalg.vector_norm(t, dim=1, keepdim=True)
    if rows is not None and not bool(torch.isfinite(norms).all()):
        bad = int(torch.nonzero(~torch.isfinite(norms.flatten()))[0, 0])
        raise UserInputError("embedding has NaN or infinite values", row=int(rows[bad]),
                             row_kind="array row",
                             fix="recompute the embedding of that image or drop the image")
    return t.div_(norms.clamp_min_(1e-12))


def load_normalized(emb: np.ndarray, rows: np.ndarray, device: torch.device,
                    check: bool = True) -> torch.Tensor:
    """Rows `rows` of `emb` (N×d array or np.memmap, any float dtype) as L2-normalised float32.

    Reads in ascending row order (sequential pages for a memmap) and restores the requested order,
    so only the requested rows are ever copied.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > 1 and np.any(rows[1:] < rows[:-1]):
        srt = np.argsort(rows, kind="stable")
        block = np.empty((len(rows), emb.shape[1]), dtype=np.float32)
        block[srt] = emb[rows[srt]]
    elif len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        # a contiguous slice: copy (a memmap slice is a read-only view of the file)
        block = np.array(emb[rows[0]:rows[-1] + 1], dtype=np.float32, copy=True)
    else:
        block = np.asarray(emb[rows], dtype=np.float32)
    if not block.flags.writeable or not block.flags.c_contiguous:
        block = np.array(block, dtype=np.float32, order="C", copy=True)
    t = torch.from_numpy(block).to(device)
    return normalize_rows_(t, rows if check else None)


def iter_normalized_chunks(emb: np.ndarray, chunk_rows: int, device: torch.device
                           ) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield `(start, rows start:start+chunk as normalised float32)` over the whole array."""
    n = emb.shape[0]
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        yield start, load_normalized(emb, np.arange(start, stop), device)


@functools.lru_cache(maxsize=8)
def bf16_matmul_is_fast(device_str: str) -> bool:
    """Whether to screen nearest-centre searches in bfloat16 on this device.

    CPU: when Linux cpuinfo lists AVX512-BF16 or AMX-BF16 (native bfloat16 GEMM, ~3× float32).
    CUDA: never — float32 GEMM is fast enough there, and cuBLAS may reduce bfloat16 products in
    reduced precision, which would void the screening error bound. Results never depend on it.
    """
    if torch.device(device_str).type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def default_chunk_rows(device: torch.device, cpu_rows: int = 4096, gpu_rows: int = 32768) -> int:
    """Rows per chunk for streaming passes: small enough for the CPU cache, large for a GPU."""
    return gpu_rows if device.type == "cuda" else cpu_rows


def _one_torch_thread() -> None:
    torch.set_num_threads(1)  # per OS thread (OpenMP ICV and MKL's thread-local setting)


def run_chunks(func: Callable[[Any], Any], items: Iterable[Any], device: torch.device,
               on_result: Callable[[Any, Any], None], cancel: CancelToken | None = None,
               workers: int | None = None) -> None:
    """Call `func(item)` for every item and `on_result(item, result)` in this thread.

    On the CPU the chunks run in `workers` threads (default: torch's thread count) that each
    use a single torch thread: whole chunks in parallel instead of OpenMP inside every small
    op, which keeps the cores busy without per-op barriers — those collapse when other
    processes compete for the cores. Each chunk's arithmetic is then single-threaded, so
    results do not depend on scheduling. On CUDA the chunks run in order in this thread.
    """
    def call(item):
        with torch.inference_mode():
            return func(item)

    workers = workers or torch.get_num_threads()
    if device.type != "cpu" or workers <= 1:
        for item in items:
            if cancel is not None:
                cancel.check()
            on_result(item, call(item))
        return
    pending: dict[Future, Any] = {}
    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers, initializer=_one_torch_thread,
                            thread_name_prefix="fiqa-score") as pool:
        try:
            while True:
                while len(pending) < 2 * workers:
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled()
                    item = next(it, _END)
                    if item is _END:
                        break
                    pending[pool.submit(call, item)] = item
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    on_result(pending.pop(fut), fut.result())
        finally:
            for fut in pending:
                fut.cancel()


_END = object()
