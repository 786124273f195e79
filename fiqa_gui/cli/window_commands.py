"""`demo` and `gui`: open the review window (or write its screenshot)."""

from __future__ import annotations

from pathlib import Path

from fiqa_gui.cli.common import EXIT_OK, progress_of, say
from fiqa_gui.core.errors import UserInputError

MIN_SIZE, MAX_SIZE = (640, 400), (7680, 4320)
VIEWS = ("cluster", "flagged", "ranked", "compare", "map")  # the window's centre tabs


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'1280x720' (or 1280×720) → (1280, 720); None stays None."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise UserInputError(f"--size {text!r} is not WIDTHxHEIGHT",
                             fix="give it as e.g. --size 1280x720.") from None
    if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
        raise UserInputError(f"--size {w}x{h} is outside {MIN_SIZE[0]}x{MIN_SIZE[1]} … "
                             f"{MAX_SIZE[0]}x{MAX_SIZE[1]}", fix="give a screen-sized window.")
    return w, h


def cmd_demo(args) -> int:
    from fiqa_gui.core.demo.project import ensure_demo_project

    size = parse_size(args.size)  # a bad --size is refused before the demo is generated
    folder = ensure_demo_project(args.folder, seed=args.seed, progress=progress_of(args))
    say(f"demo project ready: {folder}")
    if args.no_window:
        print(folder)
        return EXIT_OK
    return _open_window(folder, args.screenshot, size, default_shot="fiqa-curator-demo.png",
                        view=args.view)


def cmd_gui(args) -> int:
    return _open_window(args.project, args.screenshot, parse_size(args.size),
                        default_shot="fiqa-curator.png", view=args.view)


def _open_window(project, screenshot, size, *, default_shot: str, view: str | None = None) -> int:
    from fiqa_gui.gui.app import display_available, run_gui

    if screenshot is None and not display_available(probe=True):
        screenshot = Path(default_shot).absolute()
        say(f"fiqa-gui: no display is available, so no window can open; writing a screenshot "
             f"of it to {screenshot} instead")
    rc = run_gui(project, screenshot=screenshot, size=size, view=view)
    if screenshot is not None and rc == EXIT_OK:
        say(f"wrote {screenshot}")
    return rc


def _view_option(s) -> None:
    s.add_argument("--view", choices=VIEWS, default=None,
                   help="the centre tab to show once the project is open (default: cluster)")


def add_parsers(sub) -> None:
    s = sub.add_parser("demo", help="generate the synthetic demo project (fixed seed)")
    s.add_argument("--folder", default=None,
                   help="where to put it (default: ~/.local/share/fiqa-curator/demo)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--screenshot", metavar="PNG",
                   help="render the window offscreen to this PNG and exit")
    s.add_argument("--size", metavar="WxH",
                   help="the window's size, e.g. 1280x720 (the screenshot is exactly that)")
    s.add_argument("--no-window", action="store_true",
                   help="only create (and score) the demo project, print its folder")
    _view_option(s)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("gui", help="open the review window (the default command)")
    s.add_argument("project", nargs="?", help="project folder to open")
    s.add_argument("--screenshot", metavar="PNG",
                   help="render the window offscreen to this PNG and exit")
    s.add_argument("--size", metavar="WxH",
                   help="the window's size, e.g. 1280x720 (the screenshot is exactly that)")
    _view_option(s)
    s.set_defaults(func=cmd_gui)
