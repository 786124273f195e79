"""`init` and `info`: create a project from images or a manifest, summarise one."""

from __future__ import annotations

import time
from pathlib import Path

from fiqa_gui.cli.common import EXIT_OK, progress_of, say


def cmd_init(args) -> int:
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.store import Project

    t0 = time.perf_counter()
    data = load_data(images=args.images, manifest=args.manifest, embeddings=args.embeddings,
                     check_images=not args.no_image_check,
                     decode_images=not args.no_image_check, progress=progress_of(args))
    for w in data.dataset.warnings:
        say(f"warning: {w}")
    with Project.create(args.project, data, copy_embeddings=not args.reference_embeddings,
                        progress=progress_of(args)) as project:
        _print_summary(project)
    say(f"created {Path(args.project).absolute()} in {time.perf_counter() - t0:.1f} s")
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


def add_parsers(sub) -> None:
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
