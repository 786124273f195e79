"""Resumable work: finished photos are saved in chunks in a staging folder keyed by the input.

Embedding a million photos on a CPU takes hours, so a cancelled, crashed or killed run must not
start over. Each chunk (`chunks/NNNNNN.npz`, written to a temporary name and renamed) records
for its photos: the path as listed, the crop written, how many faces were found, whether one
was, the raw embedding and its norm. A crop is written before its chunk, so a chunk on disk
means its crops are complete; at most one chunk of work is lost to a kill. The key (a hash of
the input folder, the model file and the preprocessing) makes a staging folder belong to one
job: a changed model or recipe starts a fresh one instead of mixing embeddings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNKS_DIR = "chunks"
CROPS_DIR = "crops"
JOB_FILE = "job.json"


@dataclass
class PhotoResult:
    """What one photo gave: its crop (relative to the staging folder) and embedding, or none."""

    path: str
    crop: str
    faces: int            # faces found (-1: not searched, the photo is a pre-aligned crop)
    found: bool
    embedding: np.ndarray | None
    norm: float
    method: str = ""


def job_key(job: dict) -> str:
    """A short stable hash of a job description (JSON-serialisable)."""
    text = json.dumps(job, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Staging:
    """The staging folder of one job: `job.json`, `crops/`, `chunks/`."""

    def __init__(self, folder: Path, job: dict) -> None:
        self.folder = Path(folder)
        self.job = job
        (self.folder / CHUNKS_DIR).mkdir(parents=True, exist_ok=True)
        (self.folder / CROPS_DIR).mkdir(exist_ok=True)
        job_file = self.folder / JOB_FILE
        if not job_file.exists():
            job_file.write_text(json.dumps(job, indent=1, sort_keys=True, default=str),
                                encoding="utf-8")
        self._next = 1 + max((int(p.stem) for p in self._chunk_files()), default=-1)

    @property
    def crops_dir(self) -> Path:
        return self.folder / CROPS_DIR

    def _chunk_files(self) -> list[Path]:
        return sorted(p for p in (self.folder / CHUNKS_DIR).glob("*.npz") if p.stem.isdigit())

    def load(self, dim: int) -> dict[str, PhotoResult]:
        """Every finished photo, by path (a later chunk wins if a photo appears twice)."""
        done: dict[str, PhotoResult] = {}
        for f in self._chunk_files():
            with np.load(f, allow_pickle=False) as z:
                emb = z["embeddings"]
                if emb.shape[1] != dim:
                    continue  # written by another model: not ours to reuse
                for i, p in enumerate(z["paths"].tolist()):
                    found = bool(z["found"][i])
                    done[p] = PhotoResult(p, str(z["crops"][i]), int(z["faces"][i]), found,
                                          emb[i].copy() if found else None,
                                          float(z["norms"][i]), str(z["methods"][i]))
        return done

    def write_chunk(self, results: list[PhotoResult], dim: int) -> None:
        """Save finished photos atomically (temporary file, fsync, rename)."""
        if not results:
            return
        emb = np.zeros((len(results), dim), dtype=np.float32)
        for i, r in enumerate(results):
            if r.found:
                emb[i] = r.embedding
        dest = self.folder / CHUNKS_DIR / f"{self._next:06d}.npz"
        tmp = dest.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, paths=np.array([r.path for r in results]),
                     crops=np.array([r.crop for r in results]),
                     faces=np.array([r.faces for r in results], dtype=np.int32),
                     found=np.array([r.found for r in results], dtype=bool),
                     norms=np.array([r.norm for r in results], dtype=np.float32),
                     methods=np.array([r.method for r in results]), embeddings=emb)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        self._next += 1

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
