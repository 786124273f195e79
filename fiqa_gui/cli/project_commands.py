"""`init` and `info`: create a project from images or a manifest (with embeddings, or
computed from the photos by `--model`), summarise one."""

from __future__ import annotations

import time
from pathlib import Path

from fiqa_gui.cli.common import EXIT_OK, floats, progress_of, say
from fiqa_gui.core.errors import UserInputError


def cmd_init(args) -> int:
    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.store import Project

    if args.model is not None:
        return _init_from_photos(args)
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


def _init_from_photos(args) -> int:
    """`init --model`: detect, align and embed the photos, then create the project."""
    from fiqa_gui.core.ingest.embed.preprocessing import Preprocessing
    from fiqa_gui.core.photo_project import NO_FACE_NAME, PhotoOptions, create_project_from_photos
    from fiqa_gui.core.store import Project

    if args.embeddings is not None:
        raise UserInputError("--model computes the embeddings; --embeddings gives them",
                             fix="pass one of --model or --embeddings, not both.")
    pre = Preprocessing.make(input_size=args.input_size, channels=args.channels,
                             mean=floats(args.mean, "--mean"), std=floats(args.std, "--std"),
                             flip=args.flip, align=args.align)
    options = PhotoOptions(model=args.model, preprocessing=pre, device=args.device,
                           batch=args.batch, center=args.center,
                           cnn_fallback=not args.no_cnn_fallback)
    summary = create_project_from_photos(args.project, images=args.images,
                                         manifest=args.manifest, options=options,
                                         progress=progress_of(args))
    if summary.resumed:
        say(f"resumed: {summary.resumed} photo(s) were already embedded by an earlier run")
    if summary.no_face:
        say(f"warning: no face found in {len(summary.no_face)} photo(s), skipped "
            f"(listed in {summary.folder / NO_FACE_NAME})")
    with Project.open(summary.folder, read_only=True) as project:
        _print_summary(project)
    say(f"created {summary.folder} in {summary.seconds:.1f} s: {summary.embedded} of "
        f"{summary.photos} photo(s) embedded")
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
    m = s.add_argument_group(
        "from photos", "compute the embeddings: find, align and embed each photo's face; the "
        "project keeps the aligned crops (a cancelled or killed run resumes where it stopped)")
    m.add_argument("--model", metavar="dlib|FILE",
                   help="'dlib' (needs the extra: pip install 'fiqa-gui[dlib]'), or your "
                   "TorchScript (.pt) or ONNX (.onnx, extra 'onnx') face model")
    m.add_argument("--align", action="store_true",
                   help="your model: detect and align to the ArcFace 5-point template (default: "
                   "the images are pre-aligned crops, only resized)")
    m.add_argument("--input-size", type=int, default=112, metavar="PX",
                   help="your model's square input size (default 112)")
    m.add_argument("--channels", choices=("rgb", "bgr"), default="rgb",
                   help="channel order your model expects (default rgb)")
    m.add_argument("--mean", default="0.5", metavar="M[,M,M]",
                   help="per-channel mean on the x/255 scale (default 0.5)")
    m.add_argument("--std", default="0.5", metavar="S[,S,S]",
                   help="per-channel std on the x/255 scale (default 0.5)")
    m.add_argument("--flip", choices=("none", "sum", "concat"), default="none",
                   help="also embed the mirrored crop and add or concatenate (default none)")
    m.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where your model runs (default auto)")
    m.add_argument("--batch", type=int, default=32, metavar="N", help="crops per model call")
    m.add_argument("--center", action="store_true",
                   help="mean-centre the (L2-normalised) embeddings before storing them: helps "
                   "when all cosines are bunched high, as with dlib (raw ones kept too)")
    m.add_argument("--no-cnn-fallback", action="store_true",
                   help="skip dlib's slow CNN detector when HOG finds no face")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("info", help="summarise a project: images, clusters, runs")
    s.add_argument("project")
    s.set_defaults(func=cmd_info)
