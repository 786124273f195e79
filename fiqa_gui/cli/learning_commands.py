"""`import-labels` and `learn`: bring in labels made elsewhere, and turn the flywheel once
(train on the curator's labels, label every image, list what to review next)."""

from __future__ import annotations

from fiqa_gui.cli.common import EXIT_OK, positive_int, progress_of, say, seed_arg


def cmd_import_labels(args) -> int:
    from fiqa_gui.core.curation.import_labels import import_labels
    from fiqa_gui.core.store import Project

    with Project.open(args.project) as project:
        command = import_labels(project, args.csv)
        counts = {f: len(p) for f, p in command.changes.items()}
        print(f"imported labels of {len(command.image_ids())} image(s) from {args.csv}: "
              + ", ".join(f"{n} {f.replace('_', ' ')}" for f, n in counts.items())
              + " (one action in the audit log, with every previous value)")
    return EXIT_OK


def cmd_learn(args) -> int:
    from fiqa_gui.core.atomic_output import guard_output
    from fiqa_gui.core.export.score_table import write_run_csv
    from fiqa_gui.core.learning.learn import check_model_folder, export_model, learn_project
    from fiqa_gui.core.learning.review_next import review_queue
    from fiqa_gui.core.progress import CancelToken
    from fiqa_gui.core.store import Project

    with Project.open(args.project) as project:
        protected = list(project.protected_paths())
        if args.out:
            guard_output(args.out, force=args.force, protected=protected)
        if args.export_model:
            check_model_folder(args.export_model, force=args.force, protected=protected)
        result = learn_project(project, run_id=args.run, seed=args.seed,
                               progress=progress_of(args), cancel=CancelToken())
        s = result.summary
        v = s["validation"]
        say(f"stored learn run #{result.run_id} (from run #{result.base_run_id})")
        sources = ", ".join(f"{n} {k}" for k, n in s["by_source"].items())
        print(f"learned from {s['labels']} label(s) in {s['clusters_labelled']} of "
              f"{s['clusters']} clusters ({sources})")
        print(f"validation by cluster ({v['folds']} folds): MAE {v['mae']:.1f} on 0–100, "
              f"Spearman {v['spearman']:.3f}")
        erc = s.get("erc", {})
        if "auc" in erc:
            print(f"ERC-AUC at FMR {erc['fmr']:g} on the {erc['scope']} (lower is better): "
                  + ", ".join(f"{k} {a:.4f}" for k, a in erc["auc"].items()))
        elif "error" in erc:
            say(f"note: no ERC figure ({erc['error']})")
        if args.out:
            write_run_csv(project, result.run_id, args.out, force=args.force,
                          protected=protected)
            say(f"wrote {args.out}")
        if args.export_model:
            for path in export_model(result, args.export_model, force=args.force,
                                     protected=protected):
                say(f"wrote {path}")
        if args.queue:
            ds = project.dataset()
            print(f"review next ({args.queue}): image, cluster, learned, quality, uncertainty")
            for item in review_queue(project, result.run_id, limit=args.queue):
                print(f"  {ds.paths[item.image_id]}  {ds.clusters[item.image_id]}  "
                      f"{item.learned:.1f}  {item.label:.1f}  ±{item.uncertainty:.1f}")
    return EXIT_OK


def add_parsers(sub) -> None:
    s = sub.add_parser("import-labels", help="import tiers, scores, seed decisions and "
                       "wrong-identity marks from a CSV (one undoable action)")
    s.add_argument("project")
    s.add_argument("csv", help="CSV with path and any of tier, score, seed, wrong_identity")
    s.set_defaults(func=cmd_import_labels)

    s = sub.add_parser("learn", help="learn quality from the curator's labels; store a run "
                       "with a 'learned' column")
    s.add_argument("project")
    s.add_argument("--run", type=int, help="scoring run to learn over (default: latest)")
    s.add_argument("--seed", type=seed_arg, default=0)
    s.add_argument("--out", metavar="CSV", help="also write the score table with 'learned'")
    s.add_argument("--export-model", metavar="DIR",
                   help="write the model as TorchScript with its feature recipe")
    s.add_argument("--queue", type=positive_int("--queue"), default=20, metavar="N",
                   help="print the N images to review next (default 20)")
    s.add_argument("--force", action="store_true", help="overwrite existing output files")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_learn)
