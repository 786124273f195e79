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


def cmd_demo(args) -> int:
    from fiqa_gui.core.demo_project import ensure_demo_project

    folder = ensure_demo_project(args.folder, seed=args.seed, progress=_progress(args))
    _say(f"demo project ready: {folder}")
    _say("the review window arrives in a later release; inspect it with "
         f"'fiqa-gui info {folder}'")
    print(folder)
    return EXIT_OK


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

    s = sub.add_parser("info", help="summarise a project: images, clusters, runs")
    s.add_argument("project")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("demo", help="generate the synthetic demo project (fixed seed)")
    s.add_argument("--folder", default=None,
                   help="where to put it (default: ~/.local/share/fiqa-curator/demo)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
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
