"""One small round icon per diagnostic flag (a letter on a colour), with its name and meaning —
the same icon in the cluster list, on gallery tiles, in the inspector and in the help dialog.

Drawn with QPainter rather than loaded from files or emoji, so they look the same on every
platform and font; the letter keeps them apart where colours are hard to tell apart.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap


class FlagInfo(NamedTuple):
    letter: str
    colour: str
    title: str
    meaning: str


FLAG_INFO: dict[str, FlagInfo] = {
    "consistency_trap": FlagInfo(
        "T", "#e6550d", "Consistency trap",
        "the cluster's images agree closely but are poor: SDD rates them all high"),
    "cluster_score_shift": FlagInfo(
        "S", "#756bb1", "Score shift (cluster)",
        "a mutually similar majority sets this cluster's ranking; its best images rank low"),
    "score_shift": FlagInfo(
        "S", "#756bb1", "Score shift",
        "among its cluster's best by model-free quality, yet SDD or CR ranks it low"),
    "identity_suspect": FlagInfo(
        "?", "#c51b8a", "Identity suspect",
        "possibly another person: nearer to another cluster, or negative signed SDD"),
    "near_duplicate": FlagInfo(
        "D", "#1b9e77", "Near duplicate",
        "a near-identical copy of another image of its cluster (inflates positives)"),
    "singleton": FlagInfo(
        "1", "#636363", "Singleton", "alone in its cluster: SDD and CR are undefined"),
    "low_iq": FlagInfo(
        "Q", "#a6761d", "Low image quality",
        "pixel quality below the threshold (blur, exposure or resolution)"),
    "unreadable": FlagInfo(
        "!", "#d7301f", "Unreadable", "the image file cannot be decoded"),
}

# Display order: what a curator should look at first comes first — the cluster-level defects
# (where the whole cluster's labels are wrong), then the image-level ones.
FLAG_ORDER = ("consistency_trap", "cluster_score_shift", "identity_suspect", "score_shift",
              "near_duplicate", "low_iq", "unreadable", "singleton")

_cache: dict[tuple[str, int, float], QPixmap] = {}


def flag_info(flag: str) -> FlagInfo:
    return FLAG_INFO.get(flag) or FlagInfo(flag[:1].upper() or "?", "#8c8c8c",
                                           flag.replace("_", " ").capitalize(), "")


def flag_title(flag: str) -> str:
    return flag_info(flag).title


def ordered(flags) -> list[str]:
    """Flags in display order, each once (unknown ones last, alphabetically)."""
    flags = set(flags)
    known = [f for f in FLAG_ORDER if f in flags]
    return known + sorted(flags - set(known))


def icon_flags(flags) -> list[str]:
    """`ordered`, with one icon for a score shift: the cluster's when both levels are there
    (the icons would be the same)."""
    out = ordered(flags)
    if "cluster_score_shift" in out and "score_shift" in out:
        out.remove("score_shift")
    return out


def flag_pixmap(flag: str, px: int = 16, dpr: float = 1.0) -> QPixmap:
    """The icon of `flag`, `px` logical pixels across (cached)."""
    key = (flag, int(px), float(dpr))
    pix = _cache.get(key)
    if pix is not None:
        return pix
    info = flag_info(flag)
    pix = QPixmap(round(px * dpr), round(px * dpr))
    pix.setDevicePixelRatio(dpr)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(QColor(255, 255, 255, 230))
    p.setBrush(QColor(info.colour))
    r = QRectF(0.5, 0.5, px - 1, px - 1)
    p.drawEllipse(r)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(7, int(px * 0.68)))
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, info.letter)
    p.end()
    _cache[key] = pix
    return pix


def flag_icon(flag: str, px: int = 16) -> QIcon:
    return QIcon(flag_pixmap(flag, px, 2.0))


def paint_flags(painter: QPainter, flags, x: int, y: int, px: int, gap: int = 2,
                dpr: float = 1.0, right_to_left: bool = False) -> int:
    """Paint the icons of `flags` in a row from (x, y); returns the x after the last one
    (or before it, painting right to left)."""
    for flag in flags:
        if right_to_left:
            x -= px
            painter.drawPixmap(x, y, flag_pixmap(flag, px, dpr))
            x -= gap
        else:
            painter.drawPixmap(x, y, flag_pixmap(flag, px, dpr))
            x += px + gap
    return x


def flag_html(flag: str, explanation: str | None = None) -> str:
    """The flag as rich text: a coloured letter badge and its title (and why, if given)."""
    import html

    info = flag_info(flag)
    badge = (f"<span style='background:{info.colour}; color:white; font-weight:bold'>"
             f"&nbsp;{html.escape(info.letter)}&nbsp;</span>")
    text = f"{badge} <b>{html.escape(info.title)}</b>"
    if explanation:
        text += f": {html.escape(explanation)}"
    return text
