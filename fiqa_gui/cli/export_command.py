"""`export`: approved seed sets, corrected labels and the audit log."""

from __future__ import annotations

from fiqa_gui.cli.common import EXIT_OK, progress_of, say


def cmd_export(args) -> int:
    from fiqa_gui.core.export.project_export import export_command
    from fiqa_gui.core.store import Project

    with Project.open(args.project, read_only=True) as project:
        reports = export_command(
            project, csv_path=args.csv, jsonl_path=args.jsonl, tree=args.tree, link=args.link,
            labels=args.labels, audit=args.audit, run_id=args.run, include=args.include,
            label_paths=args.label_paths, label_source=args.label_source,
            on_whitespace="skip" if args.skip_whitespace else "error",
            force=args.force, progress=progress_of(args))
    for r in reports:
        skipped = f", {r.skipped} skipped" if r.skipped else ""
        print(f"{r.kind:8s} {r.path}  ({r.rows} rows{skipped}, {r.seconds:.1f} s)")
        for note in r.notes:
            say(f"  note: {note}")
    return EXIT_OK


def add_parsers(sub) -> None:
    s = sub.add_parser("export", help="export approved seeds, labels and the audit log")
    s.add_argument("project")
    s.add_argument("--csv", metavar="FILE", help="approved seed set as CSV")
    s.add_argument("--jsonl", metavar="FILE", help="approved seed set as JSON Lines")
    s.add_argument("--tree", metavar="DIR", help="approved seed set as DIR/<cluster>/<image>")
    s.add_argument("--link", choices=("copy", "hardlink", "symlink"), default="copy")
    s.add_argument("--labels", metavar="FILE",
                   help="corrected quality labels of every image: path<TAB>label")
    s.add_argument("--label-paths", choices=("absolute", "relative"), default="absolute",
                   help="image paths in --labels: absolute (default) or relative to the image "
                   "root")
    s.add_argument("--skip-whitespace", action="store_true",
                   help="leave images whose path contains whitespace out of --labels (the "
                   "SDD-FIQA list reader splits lines on whitespace) instead of refusing")
    s.add_argument("--label-source", choices=("quality", "learned"), default="quality",
                   help="where the curator left no label, --labels takes quality (default) or "
                   "learned (the model trained on the curators' labels: the latest learn run, "
                   "or --run)")
    s.add_argument("--audit", metavar="FILE", help="the audit log as CSV")
    s.add_argument("--run", type=int, help="scoring run to export (default: latest)")
    s.add_argument("--include", default="approved",
                   help="seed states to export (default: approved)")
    s.add_argument("--force", action="store_true",
                   help="replace existing outputs (never a project file or an input)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_export)
