"""Create (once) the synthetic demo project: generated data + a scored project over it.

Layout: `<folder>/data/` (images, manifest.csv, embeddings.npy) and `<folder>/project/`.
The default folder is `$FIQA_CURATOR_HOME/demo`, else `~/.local/share/fiqa-curator/demo`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fiqa_gui.core.progress import ProgressCallback, no_progress


def default_home() -> Path:
    env = os.environ.get("FIQA_CURATOR_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fiqa-curator"


def ensure_demo_project(folder: str | Path | None = None, *, seed: int = 0,
                        n_clusters: int = 60,
                        progress: ProgressCallback = no_progress) -> Path:
    """Return the demo project folder, generating data and project if they are not there yet."""
    from fiqa_gui.core.demo import generate_demo
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.store import Project
    from fiqa_gui.core.store.project import DB_NAME

    folder = Path(folder) if folder is not None else default_home() / "demo"
    if seed != 0 and folder == default_home() / "demo":
        folder = default_home() / f"demo-seed{seed}"
    project_dir = folder / "project"
    if (project_dir / DB_NAME).is_file():
        with Project.open(project_dir) as project:  # proves it opens (migrates an old one)
            if not project.runs("score"):
                _score(project, seed, progress)
        return project_dir
    data_dir = folder / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a previous generation was interrupted
    if project_dir.exists():
        shutil.rmtree(project_dir)
    manifest = generate_demo(data_dir, seed=seed, n_clusters=n_clusters, progress=progress)
    data = load_data(manifest=manifest, embeddings=manifest.parent / "embeddings.npy",
                     progress=progress)
    with Project.create(project_dir, data, progress=progress) as project:
        _score(project, seed, progress)
    return project_dir


def _score(project, seed: int, progress: ProgressCallback) -> None:
    from fiqa_gui.core.labels.project_scoring import score_project
    from fiqa_gui.core.scoring.pipeline import ScoringParams

    score_project(project, ScoringParams(seed=seed), progress=progress)
