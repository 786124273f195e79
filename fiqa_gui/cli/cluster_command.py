"""`cluster`: multi-threshold clustering of a project, or a plain folder into identity clusters."""

from __future__ import annotations

from fiqa_gui.cli.common import EXIT_OK, floats, positive_int, progress_of, say, seed_arg
from fiqa_gui.core.errors import UserInputError


def cmd_cluster(args) -> int:
    from fiqa_gui.core.seedsets import clustering

    progress = progress_of(args)
    if args.images:
        if not (args.embeddings and args.out):
            raise UserInputError("clustering a plain folder needs --images DIR, --embeddings NPY "
                                 "and --out CSV (the manifest to write)")
        res = clustering.cluster_folder_to_manifest(
            args.images, args.embeddings, args.out, threshold=args.threshold, k=args.k,
            index=args.index, seed=args.seed, force=args.force, progress=progress)
        say(f"wrote {res.manifest}: {res.images} images in {res.clusters} clusters "
             f"({res.singletons} singletons) at cosine ≥ {res.threshold:g}")
        return EXIT_OK
    if not args.project:
        raise UserInputError("give a PROJECT, or --images DIR --embeddings NPY --out CSV")
    from fiqa_gui.core.store import Project

    thresholds = floats(args.thresholds, "--thresholds")
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


def add_parsers(sub) -> None:
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
    s.add_argument("--k", type=positive_int("--k"), default=16,
                   help="neighbours per image (default 16)")
    s.add_argument("--index", choices=("auto", "exact", "ivf", "hnsw"), default="auto")
    s.add_argument("--seed", type=seed_arg, default=0)
    s.add_argument("--force", action="store_true",
                   help="replace an existing --out (never an input: images, embeddings)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_cluster)
