"""Entry points: `run_gui` (the window, or an offscreen screenshot of it) and
`display_available` (whether a Qt platform with a screen can start here)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

SCREENSHOT_SIZE = (1600, 1000)


def display_available(probe: bool = False) -> bool:
    """Whether an interactive window can be shown.

    On Linux a display server must be named (`DISPLAY`, `WAYLAND_DISPLAY`) or `QT_QPA_PLATFORM`
    must name a platform with a screen (`offscreen`/`minimal` have none); other systems always
    have one. With `probe=True` a throwaway process also starts Qt's platform plugin, which
    catches the classic failure of a named display whose plugin cannot load ("Could not load
    the Qt platform plugin xcb": missing libxcb-* libraries, or an unreachable X server) —
    about a third of a second.
    """
    if sys.platform.startswith("linux"):
        platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
        platform = platform.strip().lower()
        if platform in ("offscreen", "minimal", "minimalegl"):
            return False
        if platform == "xcb":
            named = bool(os.environ.get("DISPLAY"))
        elif platform.startswith("wayland"):
            named = bool(os.environ.get("WAYLAND_DISPLAY"))
        elif platform:  # eglfs, linuxfb, vnc, …: they bring their own screen
            named = True
        else:
            named = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if not named:
            return False
    return platform_starts() if probe else True


def platform_starts(timeout_s: float = 20.0) -> bool:
    """Start the Qt platform plugin in a child process; True if it came up (Qt aborts the
    process when it cannot, so this is the only safe way to ask)."""
    code = ("import sys\n"
            "from PySide6.QtGui import QGuiApplication\n"
            "app = QGuiApplication(sys.argv[:1])\n"
            "sys.exit(0 if app.primaryScreen() is not None else 3)\n")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def application_icon():
    """The application icon (every PNG size of `fiqa_gui/resources/icons`, from its SVG)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for size in ICON_SIZES:
        path = ICON_DIR / f"fiqa-curator-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon


def _application(argv: list[str] | None):
    from PySide6.QtWidgets import QApplication

    from fiqa_gui.gui.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "fiqa-gui"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setWindowIcon(application_icon())
    app.setDesktopFileName("io.github.fiqa_curator.FIQACurator")
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)
    return app


def run_gui(project: str | Path | None = None, *, demo: bool = False,
            screenshot: str | Path | None = None, argv: list[str] | None = None,
            size: tuple[int, int] | None = None, view: str | None = None) -> int:
    """Open the review window on `project`, on the demo (`demo=True`), or on the start screen
    (reopening the last project). With `screenshot`, render the window offscreen to that PNG
    (a cluster selected, thumbnails loaded, plots drawn) and return instead of running.
    `size` (width, height) is the window's size: the screenshot is exactly that large.
    `view`: the centre tab shown once the project is open (`view_tabs.TABS`; default: the
    cluster gallery).

    Returns the process exit code: 0, 2 when the project cannot be opened (screenshot mode),
    1 on an internal error.
    """
    if screenshot is not None:
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is None:
            # rendered offscreen even where a display exists: nothing flashes on the screen,
            # and the picture does not depend on the desktop's scaling
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = _application(argv)
    from fiqa_gui.gui.main_window import MainWindow
    from fiqa_gui.gui.settings import AppSettings

    if screenshot is not None:
        with tempfile.TemporaryDirectory(prefix="fiqa-gui-shot-") as tmp:
            # a throwaway settings file: a screenshot never changes the user's layout or recents
            window = MainWindow(AppSettings.at(Path(tmp) / "settings.ini"), detect_device=False)
            if view is not None:
                window.project_opened.connect(lambda _review: window.show_view(view))
            try:
                return render_screenshot(window, screenshot, project=project, demo=demo,
                                         size=size or SCREENSHOT_SIZE)
            finally:
                window.shutdown()
                window.deleteLater()
                app.processEvents()
    window = MainWindow()
    if view is not None:
        window.project_opened.connect(lambda _review: window.show_view(view))
    if size is not None:
        window.resize(*size)
        window.share_width(size[0])
    window.show()
    if demo:
        window.open_demo()
    elif project is not None:
        window.open_project(project)
    else:
        last = window.settings.last_project()
        if last and (Path(last) / "project.sqlite").is_file():
            window.open_project(last)
    return app.exec()


def render_screenshot(window, path: str | Path, *, project=None, demo: bool = False,
                      size: tuple[int, int] = SCREENSHOT_SIZE, timeout_ms: int = 600000) -> int:
    """Open `project` (or the demo) in `window`, wait until everything on screen is drawn,
    and save the window as a PNG. Returns 0, or 2/1 after printing why it failed."""
    window.jobs.show_dialogs = False
    window.resize(*size)
    window.share_width(size[0])
    window.detect_device_now()
    window.show()
    outcome = {}
    window.jobs.finished.connect(lambda title, result: outcome.__setitem__(title, result))
    if demo:
        window.open_demo()
    elif project is not None:
        window.open_project(project)
    if not window.wait_idle(timeout_ms):
        print("fiqa-gui: the window did not finish loading in time", file=sys.stderr)
        return 1
    if "failed" in outcome.values():
        title, text = window.jobs.last_message or ("", "unknown error")
        print(f"fiqa-gui: error: {text}", file=sys.stderr)
        return 2 if "Internal error" not in text else 1
    if (window.width(), window.height()) != tuple(size):
        print(f"fiqa-gui: error: the window cannot be {size[0]}×{size[1]}: its smallest size "
              f"is {window.minimumWidth()}×{window.minimumHeight()}", file=sys.stderr)
        return 2
    save_window_png(window, path)
    return 0


def save_window_png(widget, path: str | Path) -> Path:
    """Grab a widget (with its children and plots) into a PNG file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return path
