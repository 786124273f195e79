"""`erc`: error-versus-reject curves of label sources on a project or on stand-alone files."""

from __future__ import annotations

from fiqa_gui.cli.common import (
    EXIT_OK,
    add_ray_arguments,
    floats,
    progress_of,
    say,
    with_ray_backend,
)
from fiqa_gui.core.errors import UserInputError


def cmd_erc(args) -> int:
    return with_ray_backend(args, _erc)


def _erc(args, backend) -> int:
    from fiqa_gui.core.evaluation.erc_files import check_erc_destination, write_erc_outputs
    from fiqa_gui.core.evaluation.evaluate import evaluate_files, evaluate_project
    from fiqa_gui.core.progress import CancelToken

    fmrs = floats(args.fmr, "--fmr")
    options = {"fmrs": fmrs, "variant": args.variant, "bootstrap": args.bootstrap,
               "seed": args.seed, "max_pairs": args.max_pairs, "progress": progress_of(args),
               "cancel": CancelToken(), "backend": backend}
    files = (args.manifest, args.embeddings, args.scores)
    if args.project:
        if any(files):
            raise UserInputError("give either a PROJECT or --manifest/--embeddings/--scores, "
                                 "not both")
        from fiqa_gui.core.store import Project

        with Project.open(args.project, read_only=True) as project:
            protected = list(project.protected_paths())
            check_erc_destination(args.out, force=args.force, protected=protected)
            result = evaluate_project(project, args.columns, run_id=args.run, **options)
    else:
        if not all(files):
            raise UserInputError("stand-alone evaluation needs --manifest CSV, --embeddings NPY "
                                 "and --scores CSV (or give a PROJECT folder)")
        if args.run is not None:
            raise UserInputError("--run applies to a PROJECT only")
        protected = list(files)
        check_erc_destination(args.out, force=args.force, protected=protected)
        result = evaluate_files(*files, args.columns, **options)
    written = write_erc_outputs(result, args.out, force=args.force, protected=protected)
    sampled = "" if result.sampling.get("method") == "all pairs" else \
        f" (sampled: {result.sampling['method']}, seed {result.sampling['seed']})"
    print(f"{result.genuine_pairs:,} genuine / {result.impostor_pairs:,} impostor pairs"
          f"{sampled}, {result.variant} threshold")
    for c in result.curves:
        interval = f"  [{c.auc_interval[0]:.4f}, {c.auc_interval[1]:.4f}]" \
            if c.auc_interval else ""
        print(f"{c.source:>12s}  FMR {c.fmr:<8g} AUC {c.auc:.4f}{interval}  "
              f"threshold {c.threshold:.4f}")
    say(f"wrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def add_parsers(sub) -> None:
    s = sub.add_parser(
        "erc", help="error-versus-reject curves: which label source predicts failures best",
        description="FNMR at a fixed FMR as the lowest-quality pairs are rejected, its area "
        "(lower is better), for each label source. Writes DIR/curves.csv, DIR/auc.json and "
        "DIR/erc.png.")
    s.add_argument("project", nargs="?", help="project folder (its current clusters)")
    s.add_argument("--run", type=int, help="scoring run for plain column names "
                   "(default: the newest); COLUMN@RUN picks another run per column")
    s.add_argument("--manifest", metavar="CSV", help="stand-alone: the manifest")
    s.add_argument("--embeddings", metavar="NPY", help="stand-alone: its embeddings")
    s.add_argument("--scores", metavar="CSV", help="stand-alone: its score table "
                   "(fiqa-gui score --out), one row per manifest row")
    s.add_argument("--columns", default="quality,sdd,cr,curated,random",
                   help="label sources, comma-separated: score columns, curated, random "
                   "(default: quality,sdd,cr,curated,random)")
    s.add_argument("--fmr", default="1e-3", help="false-match rates, e.g. 1e-2,1e-3 "
                   "(default 1e-3)")
    s.add_argument("--variant", choices=("fixed", "rederived"), default="fixed",
                   help="threshold fixed once on all impostors (default), or re-derived at "
                   "every reject fraction (as the CR-FIQA scripts do)")
    s.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="identity bootstrap replicates for 95%% intervals (default 0: none)")
    s.add_argument("--seed", type=int, default=0, help="seed of pair sampling, the bootstrap "
                   "and the random baseline")
    s.add_argument("--max-pairs", type=int, default=2_000_000, metavar="N",
                   help="use every pair up to N pairs, a seeded sample above (default 2000000)")
    add_ray_arguments(s, "the scoring of sampled pairs")
    s.add_argument("--out", metavar="DIR", required=True, help="folder for the three files")
    s.add_argument("--force", action="store_true",
                   help="replace DIR if an earlier 'erc' wrote it")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_erc)
