"""`relocate`: point a project at the folder its images were moved to."""

from __future__ import annotations

from fiqa_gui.cli.common import EXIT_OK, say


def cmd_relocate(args) -> int:
    from fiqa_gui.core.store import Project

    with Project.open(args.project) as project:
        old = project.meta().get("image_root", "")
        found, total = project.relocate_images(args.image_root)
        missing = total - found
        say(f"image root {old} → {project.meta()['image_root']}: {found} of {total} images "
            f"found" + (f", {missing} still missing" if missing else ""))
    return EXIT_OK


def add_parsers(sub) -> None:
    s = sub.add_parser("relocate", help="point a project at the folder its images moved to")
    s.add_argument("project")
    s.add_argument("image_root", metavar="NEW_FOLDER",
                   help="the folder that now holds the images (relative paths start there)")
    s.set_defaults(func=cmd_relocate)
