"""Light and dark palettes (Fusion style), tier colours, and the matching pyqtgraph look."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from fiqa_gui.core.review.codes import (
    SEED_APPROVED,
    SEED_PROPOSED,
    SEED_REJECTED,
    TIER_HIGH,
    TIER_LOW,
    TIER_MID,
    TIER_NONE,
    TIER_UNUSABLE,
)

THEMES = ("system", "light", "dark")

# Tier colours chosen to stay apart for the common colour-vision deficiencies (blue/orange/
# vermilion rather than green/red); the tile also prints the tier letter, so colour is a hint.
TIER_COLOURS = {
    TIER_HIGH: QColor("#2b83ba"),
    TIER_MID: QColor("#e6a23c"),
    TIER_LOW: QColor("#d7301f"),
    TIER_UNUSABLE: QColor("#3b3b3b"),
    TIER_NONE: QColor("#8c8c8c"),
}
TIER_LETTERS = {TIER_HIGH: "H", TIER_MID: "M", TIER_LOW: "L", TIER_UNUSABLE: "U",
                TIER_NONE: "–"}

# Seed decisions: a mark in the tile's bottom-left corner.
SEED_MARKS = {SEED_APPROVED: ("✓", QColor("#1a9850"), "approved seed"),
              SEED_REJECTED: ("✕", QColor("#737373"), "rejected seed"),
              SEED_PROPOSED: ("○", QColor("#1a9850"), "proposed seed")}
WRONG_IDENTITY_COLOUR = QColor("#d7301f")
CORRECTED_COLOUR = QColor("#6a3d9a")  # the curator's own values (corrected score) in tiles
READ_ONLY_COLOUR = QColor("#e6a23c")

POSITIVE_COLOUR = QColor("#1a9850")  # same-cluster similarities
NEGATIVE_COLOUR = QColor("#d73027")  # other-cluster similarities
POINT_COLOUR = QColor("#4878cf")
HIGHLIGHT_COLOUR = QColor("#ff7f0e")
FLAG_COLOUR = QColor("#e6550d")


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    try:
        return hints.colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5
        return False


def resolve_dark(theme: str) -> bool:
    return system_is_dark() if theme == "system" else theme == "dark"


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(225, 225, 225)
    disabled = QColor(130, 130, 130)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor(40, 40, 43))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(60, 60, 64))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.PlaceholderText, disabled)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor(55, 55, 58))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 90, 90))
    p.setColor(QPalette.ColorRole.Link, QColor(110, 170, 255))
    p.setColor(QPalette.ColorRole.Highlight, QColor(52, 110, 190))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.Mid, QColor(70, 70, 74))
    p.setColor(QPalette.ColorRole.Dark, QColor(25, 25, 27))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_theme(app: QApplication, theme: str) -> bool:
    """Fusion style with a light or dark palette; returns True when dark."""
    app.setStyle("Fusion")
    dark = resolve_dark(theme)
    app.setPalette(_dark_palette() if dark else app.style().standardPalette())
    return dark


def plot_colours(dark: bool) -> tuple[str, str]:
    """(background, foreground) for pyqtgraph widgets in the current theme."""
    return ("#1e1e20", "#d0d0d0") if dark else ("#ffffff", "#303030")


def style_plot(plot_widget, dark: bool) -> None:
    """Background, axis pens and text colour of one pyqtgraph PlotWidget."""
    import pyqtgraph as pg

    bg, fg = plot_colours(dark)
    plot_widget.setBackground(bg)
    item = plot_widget.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(fg))
        axis.setTextPen(pg.mkPen(fg))
    item.titleLabel.item.setDefaultTextColor(QColor(fg))
