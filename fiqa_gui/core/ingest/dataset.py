"""The in-memory description of a curator's data: one row per image, in manifest order.

Clusters are indexed in sorted-name order (like torchvision's ImageFolder `class_to_idx`), so a
classifier head trained on an ImageFolder tree lines up with `labels` without a mapping file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiqa_gui.core.ingest.columns import CodedColumn


@dataclass
class Dataset:
    """Images (paths as the user gave them), their cluster, and every other manifest column."""

    root: Path
    paths: Sequence[str]     # a list, or a compact `columns.TextColumn` (manifests)
    clusters: Sequence[str]  # a list, or a `columns.CodedColumn` with its names sorted
    attributes: dict[str, list[str]] = field(default_factory=dict)
    source: str = "manifest"
    source_path: Path | None = None
    unreadable: np.ndarray | None = None
    image_sizes: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    lines: Sequence[int] | None = None  # manifest line of each row (header = line 1), if any

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.clusters):
            raise ValueError("paths and clusters differ in length")
        if isinstance(self.clusters, CodedColumn):  # already coded in sorted-name order
            self.cluster_names: list[str] = list(self.clusters.names)
            self.labels = self.clusters.codes.astype(np.int64)  # own copy: the column may change
        else:
            self.cluster_names = sorted(set(self.clusters))
            index = {name: i for i, name in enumerate(self.cluster_names)}
            self.labels = np.fromiter((index[c] for c in self.clusters), dtype=np.int64,
                                      count=len(self.clusters))
        if self.unreadable is None:
            self.unreadable = np.zeros(len(self.paths), dtype=bool)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def cluster_sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.cluster_names))

    @property
    def singleton_mask(self) -> np.ndarray:
        """True for images alone in their cluster (SDD is undefined for them)."""
        return self.cluster_sizes[self.labels] == 1

    def locate(self, i: int) -> dict:
        """Where row `i` came from, as keyword arguments for `UserInputError`."""
        if self.lines is not None and self.source_path is not None:
            return {"file": self.source_path, "row": self.lines[i], "row_kind": "line"}
        return {"file": self.absolute_path(i)}

    def absolute_path(self, i: int) -> Path:
        p = Path(self.paths[i])
        return p if p.is_absolute() else self.root / p

    def absolute_paths(self) -> list[Path]:
        return [self.absolute_path(i) for i in range(len(self.paths))]

    def absolute_path_strings(self) -> list[str]:
        """`absolute_paths` as strings, without a Path object per row (a million rows: seconds
        saved where only the strings are needed)."""
        return list(self.iter_absolute_path_strings())

    def iter_absolute_path_strings(self) -> Iterator[str]:
        """`absolute_path_strings` one at a time (nothing held per row)."""
        root = str(self.root)
        for p in self.paths:
            yield p if os.path.isabs(p) else os.path.join(root, p)
