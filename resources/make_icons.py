"""Render the application icon's PNG sizes from its SVG source (run after editing the SVG).

    python resources/make_icons.py

Qt's SVG renderer (PySide6-Essentials' QtSvg) draws `fiqa_gui/resources/fiqa-curator.svg` at each
of `SIZES` into `fiqa_gui/resources/icons/fiqa-curator-<size>.png`; the window, the bundle and the
.desktop file use those. Runs headless (QT_QPA_PLATFORM=offscreen is set when no display is).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PACKAGE = Path(__file__).resolve().parents[1] / "fiqa_gui" / "resources"


def render(svg: Path, out_dir: Path, sizes=SIZES) -> list[Path]:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for size in sizes:
        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"fiqa-curator-{size}.png"
        if not img.save(str(path)):
            raise SystemExit(f"cannot write {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for p in render(PACKAGE / "fiqa-curator.svg", PACKAGE / "icons"):
        print(p)
