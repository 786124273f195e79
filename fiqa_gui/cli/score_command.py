"""`score`: SDD, CR, image cues, flags and quality, into a project run or a CSV.

Everything the user gave is checked before the computation starts (numbers, the --out path
against the output rule, the images being where the project expects them), so a mistake costs
seconds, not the whole run.
"""

from __future__ import annotations

import time

from fiqa_gui.cli.common import (
    EXIT_OK,
    add_ray_arguments,
    positive_int,
    progress_of,
    say,
    seed_arg,
    with_ray_backend,
)
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.memory import release_freed


def _scoring_params(args):
    from fiqa_gui.core.scoring.pipeline import ScoringParams

    for name in ("repeats", "negatives", "positives"):
        value = getattr(args, name)
        if value < 1:
            raise UserInputError(f"--{name} must be at least 1 (got {value})")
    return ScoringParams(repeats=args.repeats, negatives=args.negatives,
                         positives=args.positives, seed=args.seed, exact=args.exact,
                         device=args.device, head_path=args.head,
                         image_cues=not args.no_image_cues, workers=args.workers,
                         nnccs=args.nnccs)


def _check_images_present(project) -> None:
    """Refuse to score pixels of a project whose images all moved; warn when some are gone."""
    missing, total, first = project.missing_images()
    root = project.meta().get("image_root", "")
    if total and missing == total:
        raise UserInputError(
            f"none of the project's {total} image files are found (first: {first}); the "
            f"images were moved from {root}?", file=project.folder,
            fix=f"point the project at their new folder: fiqa-gui relocate {project.folder} "
                "NEW_FOLDER (or score without pixels: --no-image-cues).")
    if missing:
        say(f"warning: {missing} of {total} image files are missing (first: {first}); they "
            "are scored without image cues and marked unreadable")


def cmd_score(args) -> int:
    return with_ray_backend(args, _score)


def _score(args, backend) -> int:
    from fiqa_gui.core.atomic_output import PathGroups, guard_output
    from fiqa_gui.core.export.score_table import write_run_csv, write_scores_csv
    from fiqa_gui.core.progress import CancelToken

    params = _scoring_params(args)
    progress = progress_of(args)
    cancel = CancelToken()
    if args.project:
        if args.manifest or args.embeddings:
            raise UserInputError("give either a PROJECT or --manifest/--embeddings, not both")
        from fiqa_gui.core.labels.project_scoring import score_project
        from fiqa_gui.core.store import Project

        with Project.open(args.project) as project:
            protected = [*project.protected_paths(), *([args.head] if args.head else [])]
            if args.out:
                guard_output(args.out, force=args.force, protected=protected)
            if params.image_cues:
                _check_images_present(project)
            run_id = score_project(project, params, progress=progress, cancel=cancel,
                                   backend=backend)
            run = next(r for r in project.runs() if r.id == run_id)
            say(f"stored run #{run_id} in {project.folder} ({run.device}, "
                 f"{run.duration_s:.1f} s)")
            if args.out:
                write_run_csv(project, run_id, args.out, force=args.force,
                              protected=protected)
                say(f"wrote {args.out}")
        return EXIT_OK
    if not (args.manifest and args.embeddings and args.out):
        raise UserInputError("stand-alone scoring needs --manifest CSV, --embeddings NPY and "
                             "--out CSV (or give a PROJECT folder)")
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.labels.project_scoring import finish_scores, merge_flags
    from fiqa_gui.core.scoring.pipeline import score_dataset

    inputs = [args.manifest, args.embeddings, *([args.head] if args.head else [])]
    guard_output(args.out, force=args.force, protected=inputs)
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    data = load_data(manifest=args.manifest, embeddings=args.embeddings,
                     check_images=params.image_cues, decode_images=False, progress=progress)
    stages["manifest + embeddings"] = time.perf_counter() - t0
    ds = data.dataset
    # the images as protected paths, joined only if --out exists and must be checked (no
    # absolute path string per image held through the run)
    protected = PathGroups([*inputs, ds.source_path or args.manifest],
                           groups=[(ds.root, ds.paths)])
    guard_output(args.out, force=args.force, protected=protected)
    for w in ds.warnings:
        say(f"warning: {w}")
    paths = ds.absolute_path_strings() if params.image_cues else None
    result = score_dataset(data.embeddings, ds.labels, ds.cluster_names, paths, params,
                           progress=progress, cancel=cancel, backend=backend)
    stages.update(result.stage_seconds)
    result.sdd_raw = result.sdd_raw[:0]  # N×K raw W1: only a project run could keep it
    release_freed()  # the kernels' temporaries, back to the OS before the flags' arrays
    t = time.perf_counter()
    columns = {c: getattr(result, c) for c in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
    unreadable = getattr(result, "unreadable", None)
    cal = None
    if paths is not None:
        from fiqa_gui.core.labels.self_calibration import calibrate_iq

        cal = calibrate_iq(paths, columns["iq"], seed=params.seed)
    diag, anchored, lowinfo = finish_scores(
        data.embeddings, ds.labels, columns, unreadable=unreadable,
        iq_poor=cal.iq_poor if cal else None, iq_good=cal.iq_good if cal else None,
        cluster_names=ds.cluster_names,
        nn_cluster=result.nn_cluster if len(result.nn_cluster) else None,
        luminance_variance=(getattr(result, "cues", {}) or {}).get("luminance_variance"),
        calibration=cal, cues=getattr(result, "cues", None))
    columns["quality"] = anchored.quality
    flags = merge_flags(result.flags, diag.row_flags(ds.labels))
    extra = dict(getattr(result, "cues", {}) or {})
    extra.update({"lowinfo": lowinfo, "strength": anchored.strength})
    del diag  # its poorness scale and details: not written by the stand-alone table
    release_freed(collect=True)
    stages["flags + quality"] = time.perf_counter() - t
    t = time.perf_counter()
    write_scores_csv(args.out, ds.paths, ds.clusters, columns, flags, extra, force=args.force,
                     protected=protected)
    stages["csv"] = time.perf_counter() - t
    if args.timings:
        say("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    say(f"wrote {args.out}: {len(ds)} rows ({result.device}, "
         f"{time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def add_parsers(sub) -> None:
    s = sub.add_parser("score", help="compute SDD, CR, image cues, flags and quality")
    s.add_argument("project", nargs="?", help="project folder (stores a new run)")
    s.add_argument("--manifest", metavar="CSV", help="stand-alone: manifest to score")
    s.add_argument("--embeddings", metavar="NPY", help="stand-alone: its embeddings")
    s.add_argument("--out", metavar="CSV", help="write one row per image (manifest order); "
                   "never a project file or an input, an existing file only with --force")
    s.add_argument("--force", action="store_true", help="replace an existing --out file")
    s.add_argument("--exact", action="store_true",
                   help="all positives vs all negatives, unnormalised W1, deterministic")
    s.add_argument("--seed", type=seed_arg, default=0, help="0 ≤ N < 2**63 (default 0)")
    s.add_argument("--repeats", type=int, default=12, help="K repetitions (default 12)")
    s.add_argument("--negatives", type=int, default=24, help="m negatives (default 24)")
    s.add_argument("--positives", type=int, default=24, help="at most p positives (default 24)")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    s.add_argument("--head", metavar="FILE", help="classifier head (.npy/.npz/.pt) for CR")
    s.add_argument("--nnccs", choices=("auto", "exact", "approx"), default="auto",
                   help="CR's nearest other centre: exact (N·C·d), approx (an IVF index over "
                        "the centres, used only where it finds the true nearest for ≥ 99.9 %% "
                        "of a seeded sample of rows) or auto (approx on the CPU when N·C is "
                        "large and it saves time; the run's parameters say which and why; "
                        "default)")
    s.add_argument("--no-image-cues", action="store_true",
                   help="skip pixel cues (image files then need not exist)")
    s.add_argument("--workers", type=positive_int("--workers"), default=None,
                   help="threads for image decoding (≥ 1)")
    add_ray_arguments(s, "SDD and CR")
    s.add_argument("--timings", action="store_true",
                   help="stand-alone: print the seconds of each stage (benchmarks)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_score)
