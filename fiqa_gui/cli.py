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


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UserInputError(f"{option} expects comma-separated numbers (got {text!r})",
                             fix=f"e.g. {option} 0.7,0.6,0.5") from None


def cmd_cluster(args) -> int:
    from fiqa_gui.core import clustering

    progress = _progress(args)
    if args.images:
        if not (args.embeddings and args.out):
            raise UserInputError("clustering a plain folder needs --images DIR, --embeddings NPY "
                                 "and --out CSV (the manifest to write)")
        res = clustering.cluster_folder_to_manifest(
            args.images, args.embeddings, args.out, threshold=args.threshold, k=args.k,
            index=args.index, seed=args.seed, force=args.force, progress=progress)
        _say(f"wrote {res.manifest}: {res.images} images in {res.clusters} clusters "
             f"({res.singletons} singletons) at cosine ≥ {res.threshold:g}")
        return EXIT_OK
    if not args.project:
        raise UserInputError("give a PROJECT, or --images DIR --embeddings NPY --out CSV")
    from fiqa_gui.core.store import Project

    thresholds = _floats(args.thresholds, "--thresholds")
    with Project.open(args.project) as project:
        result = clustering.cluster_command(
            project, thresholds, k=args.k, within_clusters=not args.across_clusters,
            index=args.index, seed=args.seed, progress=progress)
    what = "across all images" if args.across_clusters else "within each cluster"
    print(f"clustering run #{result.run_id} ({what}, {result.duration_s or 0:.1f} s)")
    for row in result.summary():
        print(f"  level {row['level']}  cosine ≥ {row['threshold']:.2f}  "
              f"{row['components']} groups, {row['singletons']} single, "
              f"largest {row['largest']}")
    return EXIT_OK


def _quotas(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = int(value)
        except ValueError:
            raise UserInputError(f"bad quota {part!r}", fix="write quotas as tier=count, "
                                 "e.g. high=3,mid=2,low=2") from None
    return out


def cmd_sample(args) -> int:
    from fiqa_gui.core import seeds
    from fiqa_gui.core.sampling import DEFAULT_QUOTAS, SamplingParams, propose_seeds
    from fiqa_gui.core.store import Project

    quotas = dict(DEFAULT_QUOTAS)
    quotas.update(_quotas(args.quotas or ""))
    level = args.level if args.level in (None, "auto") else int(args.level)
    params = SamplingParams(
        quotas=quotas, tier_mode=args.tier_mode,
        thresholds=_floats(args.thresholds, "--thresholds") if args.thresholds else None,
        subcluster_level=level,
        attributes=tuple(a for a in (args.attributes or "").split(",") if a),
        seed=args.seed)
    with Project.open(args.project) as project:
        names = {name: cid for cid, name, _, _ in project.clusters()}
        cluster_ids = None
        if args.clusters:
            wanted = [c.strip() for c in args.clusters.split(",") if c.strip()]
            missing = [c for c in wanted if c not in names]
            if missing:
                raise UserInputError(f"no cluster named {missing[0]!r}", file=project.folder)
            cluster_ids = [names[c] for c in wanted]
        proposal = propose_seeds(project, params=params, cluster_ids=cluster_ids,
                                 progress=_progress(args))
        seeds.ProposeSeeds(project, proposal).apply(project)
        picked = proposal.image_ids()
        print(f"proposed {len(picked)} seed image(s) in {len(proposal.cluster_ids)} cluster(s)")
        for tier, row in proposal.tier_summary().items():
            if row["available"] or row["wanted"]:
                print(f"  {tier:9s} picked {row['picked']:6d} of {row['wanted']:6d} wanted "
                      f"({row['available']} available)")
        if args.coverage:
            _write_rows(args.coverage, proposal.coverage_rows())
            _say(f"wrote {args.coverage}")
        if args.approve and picked:
            seeds.approve_images(project, picked).apply(project)
            print(f"approved {len(picked)} proposed seed image(s)")
        if args.approve_sets:
            seeds.approve_seed_set(project, proposal.cluster_ids,
                                   pending="approve" if args.approve else "refuse"
                                   ).apply(project)
            print(f"approved the seed sets of {len(proposal.cluster_ids)} cluster(s)")
        dash = seeds.progress_dashboard(project)
        print(f"seed sets approved: {dash.sets_approved}/{dash.clusters} clusters; images "
              f"approved {dash.images_approved}, proposed {dash.images_proposed}, "
              f"rejected {dash.images_rejected}")
    return EXIT_OK


def _write_rows(path: str, rows: list[dict]) -> None:
    import csv

    from fiqa_gui.core.atomic_output import atomic_file

    with atomic_file(path) as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["cluster_id"])
        w.writeheader()
        w.writerows(rows)


def cmd_export(args) -> int:
    from fiqa_gui.core.export import export_command
    from fiqa_gui.core.store import Project

    with Project.open(args.project, read_only=True) as project:
        reports = export_command(
            project, csv_path=args.csv, jsonl_path=args.jsonl, tree=args.tree, link=args.link,
            labels=args.labels, audit=args.audit, run_id=args.run, include=args.include,
            force=args.force, progress=_progress(args))
    for r in reports:
        skipped = f", {r.skipped} skipped" if r.skipped else ""
        print(f"{r.kind:8s} {r.path}  ({r.rows} rows{skipped}, {r.seconds:.1f} s)")
        for note in r.notes:
            _say(f"  note: {note}")
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

    s = sub.add_parser("cluster", help="multi-threshold clustering (sub-clusters, or a "
                       "plain folder into identity clusters)")
    s.add_argument("project", nargs="?", help="project folder (stores a clustering run)")
    s.add_argument("--thresholds", default="0.7,0.6,0.5",
                   help="cosine thresholds, tight to loose (default 0.7,0.6,0.5)")
    s.add_argument("--across-clusters", action="store_true",
                   help="group all images regardless of their clusters")
    s.add_argument("--images", metavar="DIR", help="plain folder of face crops to group")
    s.add_argument("--embeddings", metavar="NPY", help="their embeddings (sorted path order)")
    s.add_argument("--out", metavar="CSV", help="manifest to write (path,cluster)")
    s.add_argument("--threshold", type=float, default=0.5,
                   help="cosine threshold for identity clusters of a plain folder")
    s.add_argument("--k", type=int, default=16, help="neighbours per image (default 16)")
    s.add_argument("--index", choices=("auto", "exact", "ivf", "hnsw"), default="auto")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--force", action="store_true", help="overwrite --out")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_cluster)

    s = sub.add_parser("sample", help="propose stratified seed sets (tier × sub-cluster × "
                       "attributes)")
    s.add_argument("project")
    s.add_argument("--quotas", help="per tier, e.g. high=3,mid=2,low=2")
    s.add_argument("--attributes", help="manifest columns to stratify by, e.g. pose,lighting")
    s.add_argument("--level", default="auto", help="sub-cluster level (default: auto)")
    s.add_argument("--tier-mode", choices=("quantile", "global"), default="quantile")
    s.add_argument("--thresholds", help="global tier thresholds low,high (e.g. 40,70)")
    s.add_argument("--clusters", help="only these clusters (comma-separated names)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--coverage", metavar="CSV", help="write the per-stratum coverage report")
    s.add_argument("--approve", action="store_true", help="approve every proposed image")
    s.add_argument("--approve-sets", action="store_true",
                   help="approve the clusters' seed sets as well")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("export", help="export approved seeds, labels and the audit log")
    s.add_argument("project")
    s.add_argument("--csv", metavar="FILE", help="approved seed set as CSV")
    s.add_argument("--jsonl", metavar="FILE", help="approved seed set as JSON Lines")
    s.add_argument("--tree", metavar="DIR", help="approved seed set as DIR/<cluster>/<image>")
    s.add_argument("--link", choices=("copy", "hardlink", "symlink"), default="copy")
    s.add_argument("--labels", metavar="FILE",
                   help="corrected quality labels of every image: path<TAB>label")
    s.add_argument("--audit", metavar="FILE", help="the audit log as CSV")
    s.add_argument("--run", type=int, help="scoring run to export (default: latest)")
    s.add_argument("--include", default="approved",
                   help="seed states to export (default: approved)")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_export)

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
    p.commands = frozenset(sub.choices)  # for main(): `fiqa-gui PROJECT` means `gui PROJECT`
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = parser.commands
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
