"""Per-image flag lists as one bit code per image instead of a Python list per image.

A million images with a list each cost ~60 MB per list of lists, and a scoring run built three
of them (the pipeline's, the diagnostics', the merged rows); the flags an image can carry are a
handful of names, so `FlagLists` keeps an unsigned code per image and hands out one shared,
read-only list per distinct code. It reads like the list of lists it replaces — `len`, index,
iterate, slice, `==` — and `merge` concatenates two of them row by row (the first's flags, then
the second's new ones), as `project_scoring.merge_flags` did with lists.

A code is laid out in *parts*: each part an ordered tuple of names with its own bits, so a
merged row lists its first part's names before its second's, each in its part's order; a name
present in two parts is listed once, where it first appears.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

MAX_BITS = 32


class FlagLists(Sequence):
    """`len(codes)` rows of flags; bit `k` of a code is name `k` of the concatenated parts."""

    def __init__(self, codes: np.ndarray, parts: Sequence[Sequence[str]]):
        self.parts = tuple(tuple(p) for p in parts)
        self.names = tuple(n for p in self.parts for n in p)
        if len(self.names) > MAX_BITS:
            raise ValueError(f"at most {MAX_BITS} flag bits (got {len(self.names)})")
        self.codes = np.asarray(codes, dtype=np.uint32)
        self._views: dict[int, list[str]] = {}

    @classmethod
    def empty(cls, n: int, names: Sequence[str]) -> FlagLists:
        return cls(np.zeros(n, dtype=np.uint32), [names])

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[str]], names: Sequence[str] | None = None
                   ) -> FlagLists:
        """Codes of plain lists; `names` (default: in order of first appearance) must cover
        every flag, in the order a row lists them."""
        if isinstance(rows, FlagLists):
            return rows
        if names is None:
            names = list(dict.fromkeys(f for row in rows for f in row))
        bit = {n: np.uint32(1) << np.uint32(k) for k, n in enumerate(names)}
        codes = np.zeros(len(rows), dtype=np.uint32)
        for i, row in enumerate(rows):
            for f in row:
                codes[i] |= bit[f]
        return cls(codes, [names])

    def bit(self, name: str) -> np.uint32:
        """The bit of `name` in the first part that has it."""
        return np.uint32(1) << np.uint32(self.names.index(name))

    def set(self, name: str, mask: np.ndarray) -> None:
        """Add flag `name` to the rows of boolean `mask` (or an index array)."""
        self.codes[mask] |= self.bit(name)
        self._views.clear()

    def has(self, name: str) -> np.ndarray:
        """Boolean mask of the rows carrying `name` (in any part)."""
        out = np.zeros(len(self.codes), dtype=bool)
        for k, n in enumerate(self.names):
            if n == name:
                out |= (self.codes & (np.uint32(1) << np.uint32(k))) != 0
        return out

    def view(self, code: int) -> list[str]:
        """The shared list of names of one code (read it, never change it)."""
        v = self._views.get(code)
        if v is None:
            seen: dict[str, None] = {}
            for k, n in enumerate(self.names):
                if code >> k & 1:
                    seen.setdefault(n, None)
            v = self._views[code] = list(seen)
        return v

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.view(int(c)) for c in self.codes[i].tolist()]
        return self.view(int(self.codes[i]))

    def __iter__(self) -> Iterator[list[str]]:
        for c in self.codes.tolist():
            yield self.view(c)

    def __eq__(self, other) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == list(b) for a, b in
                                                   zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # mutable (set)

    def joined(self, sep: str = ";", start: int = 0, stop: int | None = None) -> list[str]:
        """Rows `start:stop`, each row's names joined by `sep` (one string per distinct code,
        shared)."""
        cache: dict[int, str] = {}
        out = []
        for c in self.codes[start:stop].tolist():
            s = cache.get(c)
            if s is None:
                s = cache[c] = sep.join(self.view(c))
            out.append(s)
        return out

    def merge(self, other: FlagLists) -> FlagLists:
        """Row by row: this row's flags, then `other`'s new ones."""
        if len(other) != len(self):
            raise ValueError(f"{len(self)} rows and {len(other)} rows")
        shift = len(self.names)
        if shift + len(other.names) > MAX_BITS:
            raise ValueError("too many flag names to merge")
        codes = self.codes | (other.codes.astype(np.uint32) << np.uint32(shift))
        return FlagLists(codes, [*self.parts, *other.parts])
