"""Create (once) the synthetic demo project: generated data + a scored project over it.

Layout: `<folder>/data/` (images, manifest.csv, embeddings.npy) and `<folder>/project/`.
The default folder is `$FIQA_CURATOR_HOME/demo`, else `~/.local/share/fiqa-curator/demo`.

The demo writes `<folder>/.fiqa-demo.json` before it makes anything, and removes a half-made
`data/` or `project/` (an interrupted generation) only where that marker says the demo made
them: a `--folder` that already holds someone's `data/` or `project/` is refused, never wiped.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.progress import ProgressCallback, no_progress

DEMO_MARKER = ".fiqa-demo.json"
DEMO_PARTS = ("data", "project")


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
    _clear_previous_demo(folder)
    manifest = generate_demo(data_dir, seed=seed, n_clusters=n_clusters, progress=progress)
    data = load_data(manifest=manifest, embeddings=manifest.parent / "embeddings.npy",
                     progress=progress)
    with Project.create(project_dir, data, progress=progress) as project:
        _score(project, seed, progress)
    return project_dir


def _clear_previous_demo(folder: Path) -> None:
    """Remove what an interrupted demo generation left, only if the demo's marker is there;
    refuse (exit 2) when `data/` or `project/` exist without it. Writes the marker."""
    marker = folder / DEMO_MARKER
    present = [folder / part for part in DEMO_PARTS
               if (folder / part).exists() or (folder / part).is_symlink()]
    if present and not _is_demo_marker(marker):
        raise UserInputError(
            f"the folder already holds {present[0].name}/, which the demo did not make; it is "
            "not deleted", file=present[0],
            fix="give --folder a new or empty folder for the demo.")
    for path in present:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)  # made by an interrupted demo generation (the marker says so)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"made_by": "fiqa-gui demo", "parts": list(DEMO_PARTS)}),
                      encoding="utf-8")


def _is_demo_marker(marker: Path) -> bool:
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("made_by") == "fiqa-gui demo"
    except (OSError, ValueError, AttributeError):
        return False


def _score(project, seed: int, progress: ProgressCallback) -> None:
    from fiqa_gui.core.labels.project_scoring import score_project
    from fiqa_gui.core.scoring.pipeline import ScoringParams

    score_project(project, ScoringParams(seed=seed), progress=progress)
