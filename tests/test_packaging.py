"""What installs the application: the icon, the desktop entry, the AppStream metadata, the
version, and (slow) a wheel that carries the icons."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import fiqa_gui
from fiqa_gui.gui.app import ICON_DIR, ICON_SIZES

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "io.github.fiqa_curator.FIQACurator"
DESKTOP = ROOT / "packaging" / f"{APP_ID}.desktop"
METAINFO = ROOT / "packaging" / f"{APP_ID}.metainfo.xml"


def test_icon_pngs_exist_at_every_size_from_the_svg():
    svg = ICON_DIR.parent / "fiqa-curator.svg"
    assert ET.parse(svg).getroot().tag.endswith("svg")
    for size in ICON_SIZES:
        with Image.open(ICON_DIR / f"fiqa-curator-{size}.png") as im:
            assert im.format == "PNG" and im.size == (size, size) and im.mode == "RGBA"
            alpha = im.getchannel("A")
            assert alpha.getextrema() == (0, 255)  # rounded corners: transparent and opaque


def test_desktop_entry_and_metainfo_agree():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(DESKTOP, encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Exec"].split()[0] == "fiqa-gui"
    assert d["Icon"] == APP_ID and d["Categories"].endswith(";")
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == DESKTOP.name
    assert root.find("provides/binary").text == "fiqa-gui"
    assert root.find("releases/release").get("version") == fiqa_gui.__version__


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed")
def test_metainfo_validates():
    r = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_version_flag():
    r = subprocess.run([sys.executable, "-m", "fiqa_gui", "--version"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"fiqa-gui {fiqa_gui.__version__}"


def test_the_window_carries_the_icon(qtbot, window_factory):
    w = window_factory()
    icon = w.windowIcon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} >= {16, 32, 48, 256}


@pytest.mark.slow
def test_wheel_includes_the_icons(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    wheel = next(tmp_path.glob("fiqa_gui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "fiqa_gui/resources/fiqa-curator.svg" in names
    for size in ICON_SIZES:
        assert f"fiqa_gui/resources/icons/fiqa-curator-{size}.png" in names


def _pyinstaller_available() -> bool:
    """PyInstaller in this interpreter, installed from the package index if it is not."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pyinstaller>=6"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return False
        import importlib

        importlib.invalidate_caches()
        try:
            import PyInstaller  # noqa: F401, F811
        except ImportError:
            return False
    return True


@pytest.mark.slow
def test_bundle_runs_moved_with_a_clean_environment(tmp_path):
    """`packaging/fiqa-curator.spec` builds the one-folder bundle; moved out of the tree and
    run without the venv, it answers --version, renders the demo window to a PNG, finds its
    icons and the scoring code, and leaves out what the program never imports."""
    if not _pyinstaller_available():
        pytest.skip("PyInstaller is not installed and could not be installed with pip")
    built = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
                        "--distpath", str(built), "--workpath", str(tmp_path / "work"),
                        str(ROOT / "packaging" / "fiqa-curator.spec")],
                       cwd=ROOT, capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stderr[-4000:]
    bundle = tmp_path / "elsewhere" / "fiqa-curator"
    bundle.parent.mkdir()
    shutil.move(str(built / "fiqa-curator"), str(bundle))  # nothing is left where it was built
    exe = bundle / "fiqa-curator"
    internal = bundle / "_internal"
    assert exe.is_file() and internal.is_dir()
    for left_out in ("ray", "tkinter", "matplotlib", "pytest", "torch/test", "torch/include"):
        assert not (internal / left_out).exists(), left_out
    assert (internal / "fiqa_gui/resources/icons/fiqa-curator-256.png").is_file()

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "QT_QPA_PLATFORM": "offscreen", "FIQA_CURATOR_HOME": str(tmp_path / "fiqa-home")}

    def run(*args, timeout=300):
        return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)

    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"fiqa-gui {fiqa_gui.__version__}"

    # `-c`: what the window's display probe runs as `sys.executable -c CODE`
    code = ("import sys\n"
            "from fiqa_gui.gui.app import ICON_DIR, application_icon\n"
            "from fiqa_gui.core.review.review_data import scoring_available\n"
            "print(ICON_DIR)\n"
            "print(scoring_available())\n"
            "sys.exit(0 if ICON_DIR.is_dir() else 5)\n")
    r = run("-c", code)
    assert r.returncode == 0, r.stdout + r.stderr
    icon_dir, scoring = r.stdout.split()[-2:]
    assert Path(icon_dir).resolve().is_relative_to(bundle.resolve()) and scoring == "True"

    shot = tmp_path / "demo.png"
    r = run("demo", "--screenshot", str(shot), "--size", "1280x720", "-q", timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size == (1280, 720)
        rgb = im.convert("RGB")
        assert any(lo != hi for lo, hi in rgb.getextrema()), "the screenshot is one flat colour"
        colours = rgb.getcolors(maxcolors=1 << 20)  # None: more than that many
        assert colours is None or len(colours) > 16, "the screenshot is nearly blank"
