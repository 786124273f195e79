"""The curator's annotations of every image as arrays the gallery paints and filters by,
refreshed from the store for exactly the images an action touched."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fiqa_gui.core.review.codes import (
    SEED_CODES,
    SEED_NAMES,
    SEED_NONE,
    TIER_CODES,
    TIER_NAMES,
    TIER_NONE,
)


@dataclass
class Annotations:
    """The curator's annotations of every image as arrays (what the gallery paints and filters
    by), read from the store and refreshed for exactly the images an action touched."""

    tier: np.ndarray        # int8 TIER_* code; TIER_NONE where the curator set no tier
    corrected: np.ndarray   # float; NaN where no corrected score
    wrong: np.ndarray       # bool: marked wrong identity
    seed: np.ndarray        # int8 SEED_* code
    notes: dict[int, str] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> Annotations:
        return cls(tier=np.full(n, TIER_NONE, dtype=np.int8), corrected=np.full(n, np.nan),
                   wrong=np.zeros(n, dtype=bool), seed=np.zeros(n, dtype=np.int8))

    @classmethod
    def load(cls, project, n: int) -> Annotations:
        out = cls.empty(n)
        out._fill(project.conn.execute(f"SELECT {_ANNOTATION_SQL} FROM annotations").fetchall())
        return out

    def refresh(self, project, image_ids) -> None:
        """Re-read the annotations of these images from the store (after an apply or revert)."""
        ids = np.unique(np.asarray(image_ids, dtype=np.int64))
        if not len(ids):
            return
        self.tier[ids] = TIER_NONE
        self.corrected[ids] = np.nan
        self.wrong[ids] = False
        self.seed[ids] = SEED_NONE
        for i in ids.tolist():
            self.notes.pop(i, None)
        rows = []
        for start in range(0, len(ids), 900):  # SQLite's variable limit
            chunk = ids[start:start + 900].tolist()
            rows += project.conn.execute(
                f"SELECT {_ANNOTATION_SQL} FROM annotations WHERE image_id IN "
                f"({', '.join('?' * len(chunk))})", chunk).fetchall()
        self._fill(rows)

    def _fill(self, rows: list[tuple]) -> None:
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self.tier[ids] = [TIER_CODES.get(r[1], TIER_NONE) for r in rows]
        self.corrected[ids] = [np.nan if r[2] is None else float(r[2]) for r in rows]
        self.wrong[ids] = [bool(r[3]) for r in rows]
        self.seed[ids] = [SEED_CODES.get(r[4], SEED_NONE) for r in rows]
        for r in rows:
            if r[5]:
                self.notes[int(r[0])] = r[5]

    def corrected_mask(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Images whose label the curator corrected: a tier, a corrected score, or marked wrong
        identity (seed decisions and notes are not label corrections)."""
        sl = slice(None) if ids is None else ids
        return (self.tier[sl] != TIER_NONE) | np.isfinite(self.corrected[sl]) | self.wrong[sl]

    def of(self, i: int) -> dict:
        """One image's annotations as the store's values (None where unset)."""
        c = float(self.corrected[i])
        return {"tier": TIER_NAMES[int(self.tier[i])] if self.tier[i] != TIER_NONE else None,
                "corrected_score": None if math.isnan(c) else c,
                "wrong_identity": bool(self.wrong[i]),
                "seed_state": SEED_NAMES.get(int(self.seed[i])),
                "note": self.notes.get(int(i))}


_ANNOTATION_SQL = "image_id, tier, corrected_score, wrong_identity, seed_state, note"
