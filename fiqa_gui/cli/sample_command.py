"""`sample`: propose (and optionally approve) stratified seed sets."""

from __future__ import annotations

from fiqa_gui.cli.common import EXIT_OK, floats, progress_of, say, seed_arg
from fiqa_gui.core.errors import UserInputError


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


def _level(text: str | None):
    if text in (None, "auto"):
        return text
    try:
        level = int(text)
    except ValueError:
        raise UserInputError(f"--level expects 'auto' or a level number (got {text!r})",
                             fix="e.g. --level auto or --level 1; "
                                 "'fiqa-gui cluster PROJECT' lists the levels.") from None
    if level < 0:
        raise UserInputError(f"--level must be 0 or more (got {level})",
                             fix="e.g. --level auto or --level 1.")
    return level


def cmd_sample(args) -> int:
    from fiqa_gui.core.atomic_output import guard_output
    from fiqa_gui.core.curation import seeds
    from fiqa_gui.core.seedsets.sampling import DEFAULT_QUOTAS, SamplingParams, propose_seeds
    from fiqa_gui.core.store import Project

    quotas = dict(DEFAULT_QUOTAS)
    quotas.update(_quotas(args.quotas or ""))
    level = _level(args.level)
    params = SamplingParams(
        quotas=quotas, tier_mode=args.tier_mode,
        thresholds=floats(args.thresholds, "--thresholds") if args.thresholds else None,
        subcluster_level=level,
        attributes=tuple(a for a in (args.attributes or "").split(",") if a),
        seed=args.seed)
    with Project.open(args.project) as project:
        protected = list(project.protected_paths())
        if args.coverage:
            guard_output(args.coverage, force=args.force, protected=protected)
        names = {name: cid for cid, name, _, _ in project.clusters()}
        cluster_ids = None
        if args.clusters:
            wanted = [c.strip() for c in args.clusters.split(",") if c.strip()]
            missing = [c for c in wanted if c not in names]
            if missing:
                raise UserInputError(f"no cluster named {missing[0]!r}", file=project.folder)
            cluster_ids = [names[c] for c in wanted]
        proposal = propose_seeds(project, params=params, cluster_ids=cluster_ids,
                                 progress=progress_of(args))
        seeds.ProposeSeeds(project, proposal).apply(project)
        picked = proposal.image_ids()
        print(f"proposed {len(picked)} seed image(s) in {len(proposal.cluster_ids)} cluster(s)")
        for tier, row in proposal.tier_summary().items():
            if row["available"] or row["wanted"]:
                print(f"  {tier:9s} picked {row['picked']:6d} of {row['wanted']:6d} wanted "
                      f"({row['available']} available)")
        if args.coverage:
            _write_rows(args.coverage, proposal.coverage_rows(), force=args.force,
                        protected=protected)
            say(f"wrote {args.coverage}")
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


def _write_rows(path: str, rows: list[dict], *, force: bool, protected: list) -> None:
    import csv

    from fiqa_gui.core.atomic_output import atomic_file

    with atomic_file(path, force=force, protected=protected) as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["cluster_id"])
        w.writeheader()
        w.writerows(rows)


def add_parsers(sub) -> None:
    s = sub.add_parser("sample", help="propose stratified seed sets (tier × sub-cluster × "
                       "attributes)")
    s.add_argument("project")
    s.add_argument("--quotas", help="per tier, e.g. high=3,mid=2,low=2")
    s.add_argument("--attributes", help="manifest columns to stratify by, e.g. pose,lighting")
    s.add_argument("--level", default="auto", help="sub-cluster level (default: auto)")
    s.add_argument("--tier-mode", choices=("quantile", "global"), default="quantile")
    s.add_argument("--thresholds", help="global tier thresholds low,high (e.g. 40,70)")
    s.add_argument("--clusters", help="only these clusters (comma-separated names)")
    s.add_argument("--seed", type=seed_arg, default=0)
    s.add_argument("--coverage", metavar="CSV", help="write the per-stratum coverage report")
    s.add_argument("--force", action="store_true", help="replace an existing --coverage file")
    s.add_argument("--approve", action="store_true", help="approve every proposed image")
    s.add_argument("--approve-sets", action="store_true",
                   help="approve the clusters' seed sets as well")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sample)
