"""The window's long jobs as plain functions `(progress, cancel) -> result` over the core,
so each can be run and tested without a window; `JobRunner` runs them off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fiqa_gui.core.progress import CancelToken, ProgressCallback
from fiqa_gui.gui.gc_pause import gc_paused

JobFn = Callable[[ProgressCallback, CancelToken], object]


def open_project(source, *, run_id: int | None = None, read_only: bool = False) -> JobFn:
    """Load what the review window shows (`ReviewData`) from a folder (opened read-only when
    asked) or an open `Project`, showing run `run_id` (default: the newest scoring run)."""

    def run(progress, cancel):
        from fiqa_gui.core.review.review_data import load_review

        with gc_paused():  # millions of long-lived objects at 1 M images: no collection walks them
            return load_review(source, run_id=run_id, read_only=read_only, progress=progress,
                               cancel=cancel)

    return run


def open_project_at_run(source, run_id: int, *, read_only: bool = False) -> JobFn:
    """`open_project` showing the run the curator had last time; the newest one when that run
    is gone (a resume never fails because of it)."""

    def run(progress, cancel):
        from fiqa_gui.core.review.review_data import load_review
        from fiqa_gui.core.store.project import ProjectError, ProjectLocked, ProjectNotWritable

        with gc_paused():
            try:
                return load_review(source, run_id=run_id, read_only=read_only,
                                   progress=progress, cancel=cancel)
            except (ProjectLocked, ProjectNotWritable):
                raise
            except ProjectError:
                return load_review(source, read_only=read_only, progress=progress,
                                   cancel=cancel)

    return run


def rescore_with_seeds(project, base_run_id: int | None = None) -> JobFn:
    """Recompute `quality` with the approved seeds as anchors and store a new run; returns the
    core's `RescoreSummary`. The GUI thread leaves the project's connection alone meanwhile."""

    def run(progress, cancel):
        from fiqa_gui.gui.jobs import quiet_import

        quiet_import("fiqa_gui.core.labels.project_scoring")
        from fiqa_gui.core.labels.project_scoring import rescore_with_seeds as rescore

        return rescore(project, base_run_id, progress=progress)

    return run


def score_project(project, params=None) -> JobFn:
    """Score every image of an open `Project` and store a new run; returns the run id.
    The GUI thread leaves the project's connection alone while this runs."""

    def run(progress, cancel):
        from fiqa_gui.gui.jobs import quiet_import

        quiet_import("fiqa_gui.core.labels.project_scoring", "fiqa_gui.core.scoring.pipeline")
        from fiqa_gui.core.labels.project_scoring import score_project as score

        return score(project, params, progress=progress, cancel=cancel)

    return run


def create_project(values: dict) -> JobFn:
    """Load and validate the user's data, then write a project; returns its folder."""

    def run(progress, cancel):
        from fiqa_gui.core.ingest.loading import load_data
        from fiqa_gui.core.store import Project

        data = load_data(images=values.get("images"), manifest=values.get("manifest"),
                         embeddings=values.get("embeddings"),
                         check_images=values.get("check_images", True),
                         decode_images=values.get("decode_images", True),
                         progress=progress, cancel=cancel)
        folder = Path(values["project"])
        Project.create(folder, data, progress=progress, cancel=cancel).close()
        return folder.absolute()

    return run


def prepare_demo(folder: str | Path | None = None, *, score: bool = True) -> JobFn:
    """Generate the demo project if needed and score it once; returns its folder."""

    def run(progress, cancel):
        from fiqa_gui.core.demo.project import ensure_demo_project
        from fiqa_gui.core.review.review_data import scoring_available
        from fiqa_gui.core.store import Project

        project_dir = ensure_demo_project(folder, progress=progress)
        cancel.check()
        with Project.open(project_dir) as project:
            if score and project.latest_run("score") is None and scoring_available():
                from fiqa_gui.core.labels.project_scoring import score_project as score_it

                score_it(project, progress=progress, cancel=cancel)
        return project_dir

    return run


def warm_thumbnails(paths: list[str], cache_dir: Path, bucket: int) -> JobFn:
    """Decode every image once to fill the project's thumbnail cache."""

    def run(progress, cancel):
        from fiqa_gui.gui.thumbnail_loader import warm_cache

        return warm_cache(paths, cache_dir, bucket, progress=progress, cancel=cancel)

    return run


def detect_device() -> tuple[str, str]:
    """("GPU"/"CPU", detail) for the scoring device `auto` would pick. Also loads, once and
    off the GUI thread, what the first similarity picture needs (torch, scipy, the SDD code):
    their import holds the GIL for a few hundred milliseconds, better spent while the window
    is still loading than later under the user's hand."""
    from fiqa_gui.gui.jobs import quiet_import

    try:
        quiet_import("torch")
        import torch
    except ImportError:
        return "CPU", "torch is not installed"
    try:
        quiet_import("scipy.stats", "fiqa_gui.core.scoring.sdd")
    except ImportError:
        pass  # the inspector says so when it needs them
    if torch.cuda.is_available():
        return "GPU", f"CUDA: {torch.cuda.get_device_name(0)}"
    return "CPU", f"torch {torch.__version__}, no CUDA device"
