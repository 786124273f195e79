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
