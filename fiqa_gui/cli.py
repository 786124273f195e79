"""`fiqa-gui` command line: the GUI by default, and headless subcommands over the same core.

Exit codes: 0 success, 2 bad input (one line naming the file, the row and the fix), 1 internal
error (the traceback goes to a log file, named in the message), 130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fiqa_gui import __version__
from fiqa_gui.core.errors import Cancelled, UserInputError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _progress(args):
    from fiqa_gui.core.progress import StderrProgressBar, no_progress

    return no_progress if getattr(args, "quiet", False) else StderrProgressBar()


# ------------------------------------------------------------------------------- subcommands
def cmd_init(args) -> int:
    from fiqa_gui.core.loading import load_data
    from fiqa_gui.core.store import Project

    t0 = time.perf_counter()
    data = load_data(images=args.images, manifest=args.manifest, embeddings=args.embeddings,
                     check_images=not args.no_image_check,
                     decode_images=not args.no_image_check, progress=_progress(args))
    for w in data.dataset.warnings:
        _say(f"warning: {w}")
    with Project.create(args.project, data, copy_embeddings=not args.reference_embeddings,
                        progress=_progress(args)) as project:
        _print_summary(project)
    _say(f"created {Path(args.project).absolute()} in {time.perf_counter() - t0:.1f} s")
    return EXIT_OK


def cmd_info(args) -> int:
    from fiqa_gui.core.store import Project

    with Project.open(args.project, read_only=True) as project:
        _print_summary(project)
    return EXIT_OK


def _print_summary(project) -> None:
    ds = project.dataset()
    emb = project.embeddings()
    sizes = ds.cluster_sizes
    print(f"project     {project.folder}")
    print(f"schema      v{project.schema_version}")
    print(f"images      {len(ds)} ({int(ds.unreadable.sum())} unreadable)")
    print(f"clusters    {len(ds.cluster_names)} (sizes {sizes.min()}–{sizes.max()}, "
          f"{int((sizes == 1).sum())} singleton)")
    print(f"attributes  {', '.join(ds.attributes) or '-'}")
    print(f"embeddings  {'-' if emb is None else f'{emb.shape[0]}×{emb.shape[1]} {emb.dtype}'}")
    runs = project.runs()
    print(f"runs        {len(runs)}")
    for r in runs:
        dur = f"{r.duration_s:.1f} s" if r.duration_s is not None else "-"
        print(f"  #{r.id} {r.kind} {r.created_at} device={r.device} seed={r.seed} {dur}")


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
    from fiqa_gui.core.progress import CancelToken
    from fiqa_gui.core.score_table import write_scores_csv

    params = _scoring_params(args)
    progress = _progress(args)
    cancel = CancelToken()
    if args.project:
        if args.manifest or args.embeddings:
            raise UserInputError("give either a PROJECT or --manifest/--embeddings, not both")
        from fiqa_gui.core.project_scoring import score_project
        from fiqa_gui.core.store import Project

        with Project.open(args.project) as project:
            run_id = score_project(project, params, progress=progress, cancel=cancel)
            run = next(r for r in project.runs() if r.id == run_id)
            _say(f"stored run #{run_id} in {project.folder} ({run.device}, "
                 f"{run.duration_s:.1f} s)")
            if args.out:
                ds = project.dataset()
                s = project.scores(run_id)
                extra = {k: v for k, v in s.items() if k != "flags" and k not in
                         ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality")}
                write_scores_csv(args.out, ds.paths, ds.clusters, s, s["flags"], extra)
                _say(f"wrote {args.out}")
        return EXIT_OK
    if not (args.manifest and args.embeddings and args.out):
        raise UserInputError("stand-alone scoring needs --manifest CSV, --embeddings NPY and "
                             "--out CSV (or give a PROJECT folder)")
    from fiqa_gui.core.loading import load_data
    from fiqa_gui.core.project_scoring import finish_scores
    from fiqa_gui.core.scoring.pipeline import score_dataset

    t0 = time.perf_counter()
    data = load_data(manifest=args.manifest, embeddings=args.embeddings,
                     check_images=params.image_cues, decode_images=False, progress=progress)
    for w in data.dataset.warnings:
        _say(f"warning: {w}")
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
    _say(f"wrote {args.out}: {len(ds)} rows ({result.device}, "
         f"{time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def cmd_demo(args) -> int:
    from fiqa_gui.core.demo_project import ensure_demo_project

    folder = ensure_demo_project(args.folder, seed=args.seed, progress=_progress(args))
    _say(f"demo project ready: {folder}")
    if args.no_window:
        print(folder)
        return EXIT_OK
    return _open_window(folder, args.screenshot, default_shot="fiqa-curator-demo.png")


def cmd_gui(args) -> int:
    return _open_window(args.project, args.screenshot, default_shot="fiqa-curator.png")


def _open_window(project, screenshot, *, default_shot: str) -> int:
    from fiqa_gui.gui.app import display_available, run_gui

    if screenshot is None and not display_available(probe=True):
        screenshot = Path(default_shot).absolute()
        _say(f"fiqa-gui: no display is available, so no window can open; writing a screenshot "
             f"of it to {screenshot} instead")
    rc = run_gui(project, screenshot=screenshot)
    if screenshot is not None and rc == EXIT_OK:
        _say(f"wrote {screenshot}")
    return rc


# ------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fiqa-gui",
        description="FIQA Curator: review, correct and export face-image quality labels.")
    p.add_argument("--version", action="version", version=f"fiqa-gui {__version__}")
    p.add_argument("--debug", action="store_true", help="print tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("init", help="create a project from an image folder or a CSV manifest")
    s.add_argument("project", help="folder to create (must be new or empty)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", metavar="DIR", help="ImageFolder tree ROOT/<cluster>/<image>")
    src.add_argument("--manifest", metavar="CSV", help="CSV with path, cluster, attributes…")
    s.add_argument("--embeddings", metavar="NPY", help=".npy/.npz, one row per image in order")
    s.add_argument("--reference-embeddings", action="store_true",
                   help="reference the .npy in place instead of copying it into the project")
    s.add_argument("--no-image-check", action="store_true",
                   help="do not check that image files exist and decode (embeddings-only data)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_init)

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

    s = sub.add_parser("info", help="summarise a project: images, clusters, runs")
    s.add_argument("project")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("demo", help="generate the synthetic demo project (fixed seed)")
    s.add_argument("--folder", default=None,
                   help="where to put it (default: ~/.local/share/fiqa-curator/demo)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--screenshot", metavar="PNG",
                   help="render the window offscreen to this PNG and exit")
    s.add_argument("--no-window", action="store_true",
                   help="only create (and score) the demo project, print its folder")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("gui", help="open the review window (the default command)")
    s.add_argument("project", nargs="?", help="project folder to open")
    s.add_argument("--screenshot", metavar="PNG",
                   help="render the window offscreen to this PNG and exit")
    s.set_defaults(func=cmd_gui)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001
    pos = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)
    if pos is None and not any(a in ("-h", "--help", "--version") for a in argv):
        argv = [*argv, "gui"]                      # `fiqa-gui` opens the window
    elif pos is not None and argv[pos] not in commands:
        argv = [*argv[:pos], "gui", *argv[pos:]]   # `fiqa-gui PROJECT` opens that project
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserInputError as err:
        _say(f"fiqa-gui: error: {err}")
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        _say("fiqa-gui: cancelled")
        return EXIT_CANCELLED
    except Exception:
        if args.debug:
            traceback.print_exc()
        else:
            with tempfile.NamedTemporaryFile("w", prefix="fiqa-gui-crash-", suffix=".log",
                                             delete=False) as log:
                traceback.print_exc(file=log)
            _say(f"fiqa-gui: internal error ({sys.exc_info()[1]!r}); details in {log.name}. "
                 "Please report it with that file.")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
