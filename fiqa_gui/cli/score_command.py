"""`score`: SDD, CR, image cues, flags and quality, into a project run or a CSV."""

from __future__ import annotations

import time

from fiqa_gui.cli.common import EXIT_OK, progress_of, say
from fiqa_gui.core.errors import UserInputError


def _scoring_params(args):
    from fiqa_gui.core.scoring.pipeline import ScoringParams

    for name in ("repeats", "negatives", "positives"):
        value = getattr(args, name)
        if value < 1:
            raise UserInputError(f"--{name} must be at least 1 (got {value})")
    return ScoringParams(repeats=args.repeats, negatives=args.negatives,
                         positives=args.positives, seed=args.seed, exact=args.exact,
                         device=args.device, head_path=args.head,
                         image_cues=not args.no_image_cues, workers=args.workers)


def cmd_score(args) -> int:
    from fiqa_gui.core.export.score_table import write_scores_csv
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
            run_id = score_project(project, params, progress=progress, cancel=cancel)
            run = next(r for r in project.runs() if r.id == run_id)
            say(f"stored run #{run_id} in {project.folder} ({run.device}, "
                 f"{run.duration_s:.1f} s)")
            if args.out:
                ds = project.dataset()
                s = project.scores(run_id)
                extra = {k: v for k, v in s.items() if k != "flags" and k not in
                         ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality")}
                write_scores_csv(args.out, ds.paths, ds.clusters, s, s["flags"], extra)
                say(f"wrote {args.out}")
        return EXIT_OK
    if not (args.manifest and args.embeddings and args.out):
        raise UserInputError("stand-alone scoring needs --manifest CSV, --embeddings NPY and "
                             "--out CSV (or give a PROJECT folder)")
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.labels.project_scoring import finish_scores
    from fiqa_gui.core.scoring.pipeline import score_dataset

    t0 = time.perf_counter()
    data = load_data(manifest=args.manifest, embeddings=args.embeddings,
                     check_images=params.image_cues, decode_images=False, progress=progress)
    for w in data.dataset.warnings:
        say(f"warning: {w}")
    ds = data.dataset
    paths = [str(p) for p in ds.absolute_paths()] if params.image_cues else None
    result = score_dataset(data.embeddings, ds.labels, ds.cluster_names, paths, params,
                           progress=progress, cancel=cancel)
    columns = {c: getattr(result, c) for c in ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq")}
    unreadable = getattr(result, "unreadable", None)
    diag, anchored, lowinfo = finish_scores(data.embeddings, ds.labels, columns,
                                            unreadable=unreadable)
    columns["quality"] = anchored.quality
    flags = [list(dict.fromkeys(a + b)) for a, b in
             zip(result.flags, diag.row_flags(ds.labels), strict=True)]
    extra = dict(getattr(result, "cues", {}) or {})
    extra.update({"lowinfo": lowinfo, "strength": anchored.strength})
    write_scores_csv(args.out, ds.paths, ds.clusters, columns, flags, extra)
    say(f"wrote {args.out}: {len(ds)} rows ({result.device}, "
         f"{time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def add_parsers(sub) -> None:
    s = sub.add_parser("score", help="compute SDD, CR, image cues, flags and quality")
    s.add_argument("project", nargs="?", help="project folder (stores a new run)")
    s.add_argument("--manifest", metavar="CSV", help="stand-alone: manifest to score")
    s.add_argument("--embeddings", metavar="NPY", help="stand-alone: its embeddings")
    s.add_argument("--out", metavar="CSV", help="write one row per image (manifest order)")
    s.add_argument("--exact", action="store_true",
                   help="all positives vs all negatives, unnormalised W1, deterministic")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--repeats", type=int, default=12, help="K repetitions (default 12)")
    s.add_argument("--negatives", type=int, default=24, help="m negatives (default 24)")
    s.add_argument("--positives", type=int, default=24, help="at most p positives (default 24)")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    s.add_argument("--head", metavar="FILE", help="classifier head (.npy/.npz/.pt) for CR")
    s.add_argument("--no-image-cues", action="store_true",
                   help="skip pixel cues (image files then need not exist)")
    s.add_argument("--workers", type=int, default=None, help="threads for image decoding")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_score)
