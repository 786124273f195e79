"""Compact per-row columns of a manifest: one buffer, not one Python object per row.

A million-row manifest held as Python lists costs ~60 bytes per path string, another ~60 per
cluster name (each row's own copy) and ~36 per line number — at MS1MV2 scale (5.8 M rows) over
a GiB before anything is scored. These read like the lists they replace (`len`, index, slice,
iterate, `==` against a list) and hand out a `str` or `int` only when asked:

- `TextColumn`: strings as UTF-8 in one bytes buffer with row offsets (paths);
- `CodedColumn`: a few distinct strings and one integer code per row (cluster names);
- `RowNumbers`: integers in a NumPy array, read back as Python `int` (manifest lines).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence

import numpy as np


class _ReadOnlyColumn(Sequence):
    """Sequence behaviour shared by the columns: slices as lists, `==` against sequences."""

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row out of range")
        return self._item(i)

    def _item(self, i: int):
        raise NotImplementedError

    def __iter__(self) -> Iterator:
        for i in range(len(self)):
            yield self._item(i)

    def tolist(self) -> list:
        return list(self)

    def __eq__(self, other) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(
                a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self[:3])
        return f"{type(self).__name__}([{head}{', …' if len(self) > 3 else ''}], n={len(self)})"


class TextColumn(_ReadOnlyColumn):
    """Strings stored as UTF-8 in one buffer; `offsets[i]:offsets[i+1]` is row i."""

    def __init__(self, data: bytes, offsets: np.ndarray):
        self.data = data
        self.offsets = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def from_strings(cls, strings) -> TextColumn:
        b = TextColumnBuilder()
        for s in strings:
            b.append(s)
        return b.build()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _item(self, i: int) -> str:
        o = self.offsets
        return self.data[int(o[i]):int(o[i + 1])].decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        data = self.data
        o = self.offsets.tolist()
        for a, b in zip(o, o[1:], strict=False):
            yield data[a:b].decode("utf-8", "surrogatepass")

    def __getitem__(self, i):
        if isinstance(i, slice) and (i.step in (None, 1)):
            a, b, _ = i.indices(len(self))
            if b <= a:
                return []
            o = self.offsets[a:b + 1].tolist()
            data = self.data
            return [data[x:y].decode("utf-8", "surrogatepass")
                    for x, y in zip(o, o[1:], strict=False)]
        return super().__getitem__(i)


    def __setitem__(self, i: int, s: str) -> None:
        """Replace row `i` (rebuilds the buffer: for the rare edit, not for filling)."""
        n = len(self)
        i = int(i) + (n if int(i) < 0 else 0)
        if not 0 <= i < n:
            raise IndexError("row out of range")
        new = s.encode("utf-8", "surrogatepass")
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        self.data = self.data[:a] + new + self.data[b:]
        self.offsets[i + 1:] += len(new) - (b - a)


class TextColumnBuilder:
    """Append strings one by one; `build` gives the `TextColumn`."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._offsets = array("q", [0])

    def append(self, s: str) -> None:
        self._data += s.encode("utf-8", "surrogatepass")
        self._offsets.append(len(self._data))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def build(self) -> TextColumn:
        offsets = np.frombuffer(self._offsets, dtype=np.int64).copy()
        data = bytes(self._data)
        self._data, self._offsets = bytearray(), array("q", [0])
        return TextColumn(data, offsets)


class CodedColumn(_ReadOnlyColumn):
    """Row i is `names[codes[i]]`: one shared string per distinct value."""

    def __init__(self, names: Sequence[str], codes: np.ndarray):
        self.names = list(names)
        self.codes = np.asarray(codes)

    def __len__(self) -> int:
        return len(self.codes)

    def _item(self, i: int) -> str:
        return self.names[int(self.codes[i])]

    def __iter__(self) -> Iterator[str]:
        names = self.names
        for c in self.codes.tolist():
            yield names[c]

    def __getitem__(self, i):
        if isinstance(i, slice):
            names = self.names
            return [names[c] for c in self.codes[i].tolist()]
        return super().__getitem__(i)


    def __setitem__(self, i: int, s: str) -> None:
        """Replace row `i` (a new value is added to `names`)."""
        try:
            code = self.names.index(s)
        except ValueError:
            code = len(self.names)
            self.names.append(s)
        self.codes[int(i)] = code


class CodedColumnBuilder:
    """Append strings; `build` gives a `CodedColumn` whose names are sorted (code = index in
    the sorted names, the order `Dataset` indexes clusters in)."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._codes = array("q")

    def append(self, s: str) -> None:
        code = self._index.get(s)
        if code is None:
            code = self._index[s] = len(self._index)
        self._codes.append(code)

    def build(self) -> CodedColumn:
        first_seen = list(self._index)
        order = sorted(range(len(first_seen)), key=first_seen.__getitem__)
        remap = np.empty(len(first_seen), dtype=np.int32)
        remap[order] = np.arange(len(first_seen))
        codes = remap[np.frombuffer(self._codes, dtype=np.int64)] if len(self._codes) else \
            np.zeros(0, dtype=np.int64)
        self._index, self._codes = {}, array("q")
        return CodedColumn([first_seen[k] for k in order], codes)


class RowNumbers(_ReadOnlyColumn):
    """Integers (manifest line numbers) in one array, read back as Python `int`."""

    def __init__(self, values) -> None:
        if isinstance(values, array):
            values = np.frombuffer(values, dtype=np.int64).copy()
        self.values = np.asarray(values, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.values)

    def _item(self, i: int) -> int:
        return int(self.values[i])

    def __iter__(self) -> Iterator[int]:
        yield from self.values.tolist()
