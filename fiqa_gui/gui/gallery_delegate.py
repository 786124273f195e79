"""Paints one gallery tile: thumbnail (or placeholder), tier frame, score badge, state marks.

The curator's own decisions look different from computed values, so a glance tells what was
reviewed: a tier set by the curator is a filled chip with a heavy frame, a computed tier an
outlined chip with a thin frame; a corrected score is printed in purple after a pencil; a
wrong-identity image is dimmed and crossed out; seed decisions sit in the bottom-left corner;
flag icons (one per flag, see `flag_icons`) in the top-right corner.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from fiqa_gui.core.review.codes import SEED_APPROVED, SEED_PROPOSED, SEED_REJECTED
from fiqa_gui.gui.flag_icons import paint_flags
from fiqa_gui.gui.gallery_model import TILE_ROLE, format_score
from fiqa_gui.gui.theme import (
    CORRECTED_COLOUR,
    SEED_MARKS,
    TIER_COLOURS,
    TIER_LETTERS,
    WRONG_IDENTITY_COLOUR,
)
from fiqa_gui.gui.thumbnail_loader import FAILED

PAD = 4  # inside the tile, around the thumbnail
GROUP_COLOURS = tuple(QColor(c) for c in ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"))
FRAME = 3  # tier frame width (the curator's tier; a computed one is thinner)
MAX_FLAG_ICONS = 3


def _frame(painter: QPainter, r: QRect, colour: QColor, width: int) -> None:
    """A frame of `width` px just inside `r`, as four filled bars (much cheaper than stroking
    a rectangle with a wide pen, which matters for a screenful of tiles)."""
    w, h = r.width(), r.height()
    painter.fillRect(r.left(), r.top(), w, width, colour)
    painter.fillRect(r.left(), r.bottom() - width + 1, w, width, colour)
    painter.fillRect(r.left(), r.top() + width, width, h - 2 * width, colour)
    painter.fillRect(r.right() - width + 1, r.top() + width, width, h - 2 * width, colour)


class GalleryDelegate(QStyledItemDelegate):
    """Square thumbnail with a caption strip: tier letter chip and score; flags top-right."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.thumb_px = 112
        self._font = QFont()
        self._font.setPointSizeF(max(7.5, self._font.pointSizeF() * 0.9))
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._caption_h = QFontMetrics(self._font).height() + 4
        self.cluster_line = False  # a second caption line with the cluster's name

    def set_thumb_size(self, px: int) -> None:
        self.thumb_px = int(px)

    def tile_size(self) -> QSize:
        side = self.thumb_px + 2 * PAD
        return QSize(side, side + self._caption_h * (2 if self.cluster_line else 1))

    def sizeHint(self, option, index) -> QSize:
        return self.tile_size()

    def paint(self, painter: QPainter, option, index) -> None:
        tile = index.data(TILE_ROLE)
        if tile is None:
            return
        pal = option.palette
        r = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        # background: selection first, so the tier frame stays visible on selected tiles
        bg = pal.color(QPalette.ColorRole.Highlight) if selected else \
            pal.color(QPalette.ColorRole.Base)
        painter.fillRect(r, bg)
        thumb = QRect(r.left() + PAD, r.top() + PAD, self.thumb_px, self.thumb_px)
        self._paint_thumb(painter, thumb, tile, pal)
        if tile.wrong:
            self._paint_wrong(painter, thumb)
        tier_colour = TIER_COLOURS.get(tile.tier, TIER_COLOURS[-1])
        _frame(painter, thumb, tier_colour, FRAME if tile.curated else 1)
        self._paint_caption(painter, r, thumb, tile, tier_colour, pal, selected)
        if self.cluster_line and tile.cluster:
            self._paint_cluster(painter, r, thumb, tile.cluster, pal, selected)
        if tile.flags:
            self._paint_flags(painter, thumb, tile.flags)
        if tile.seed:
            self._paint_seed(painter, thumb, tile.seed)
        if tile.note:
            self._paint_note(painter, thumb)
        if tile.group:
            self._paint_group(painter, r, thumb, tile.group)
        if option.state & QStyle.StateFlag.State_HasFocus:
            # an outline only: the caption chip (or a mark) leaves its fill brush set, and
            # drawRect with it would cover the whole tile (the current tile painted blank)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DotLine))
            painter.drawRect(r.adjusted(0, 0, -1, -1))
        painter.restore()

    def _paint_thumb(self, painter, thumb: QRect, tile, pal) -> None:
        pix = tile.pixmap
        if isinstance(pix, QPixmap) and not pix.isNull():
            scaled = pix.size().scaled(thumb.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(thumb.center())
            painter.fillRect(thumb, pal.color(QPalette.ColorRole.Mid))
            painter.drawPixmap(target, pix)
            return
        painter.fillRect(thumb, pal.color(QPalette.ColorRole.AlternateBase))
        if tile.unreadable or pix is FAILED:
            painter.setPen(QPen(QColor("#d7301f"), 2))
            m = thumb.adjusted(thumb.width() // 4, thumb.height() // 4,
                               -thumb.width() // 4, -thumb.height() // 4)
            painter.drawLine(m.topLeft(), m.bottomRight())
            painter.drawLine(m.topRight(), m.bottomLeft())
            painter.setFont(self._font)
            painter.drawText(thumb.adjusted(2, 2, -2, -2),
                             Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                             "unreadable")
        else:  # still loading: a quiet placeholder
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.setFont(self._font)
            painter.drawText(thumb, Qt.AlignmentFlag.AlignCenter, "…")

    def _paint_wrong(self, painter, thumb: QRect) -> None:
        """Dim the image and cross it out: this is not the cluster's person."""
        painter.fillRect(thumb, QColor(255, 255, 255, 110))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        m = QRectF(thumb).adjusted(thumb.width() * 0.12, thumb.height() * 0.12,
                                   -thumb.width() * 0.12, -thumb.height() * 0.12)
        w = max(3.0, thumb.width() / 22)
        for colour, width in ((QColor(255, 255, 255, 220), w + 3), (WRONG_IDENTITY_COLOUR, w)):
            pen = QPen(colour, width)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawLine(m.topLeft(), m.bottomRight())
            painter.drawLine(m.topRight(), m.bottomLeft())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_caption(self, painter, r: QRect, thumb: QRect, tile, tier_colour, pal,
                       selected: bool) -> None:
        cap = QRect(r.left() + PAD, thumb.bottom() + 2, thumb.width(), self._caption_h - 2)
        chip = QRect(cap.left(), cap.top() + 1, cap.height() - 2, cap.height() - 2)
        painter.setFont(self._bold)
        letter = TIER_LETTERS.get(tile.tier, "–")
        if tile.curated:  # the curator's tier: filled
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(tier_colour)
            painter.drawRoundedRect(chip, 3, 3)
            painter.setPen(QColor("white"))
        else:  # computed: outlined
            painter.setPen(QPen(tier_colour, 1.2))
            painter.setBrush(pal.color(QPalette.ColorRole.Base))
            painter.drawRoundedRect(QRectF(chip).adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
            painter.setPen(tier_colour)
        painter.setBrush(Qt.BrushStyle.NoBrush)  # no fill leaks into what is painted next
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, letter)
        text_colour = pal.color(QPalette.ColorRole.HighlightedText if selected
                                else QPalette.ColorRole.Text)
        painter.setPen(text_colour)
        painter.setFont(self._font)
        text_rect = cap.adjusted(chip.width() + 4, 0, 0, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         format_score(tile.score, tile.by))
        if not math.isnan(tile.corrected):
            painter.setFont(self._bold)
            painter.setPen(text_colour if selected else CORRECTED_COLOUR)
            painter.drawText(text_rect,
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             f"✎{tile.corrected:g}")

    def _paint_cluster(self, painter, r: QRect, thumb: QRect, name: str, pal,
                       selected: bool) -> None:
        """The cluster's name under the caption (elided to the tile's width)."""
        line = QRect(r.left() + PAD, thumb.bottom() + self._caption_h, thumb.width(),
                     self._caption_h - 2)
        painter.setFont(self._font)
        painter.setPen(pal.color(QPalette.ColorRole.HighlightedText if selected
                                 else QPalette.ColorRole.PlaceholderText))
        text = QFontMetrics(self._font).elidedText(name, Qt.TextElideMode.ElideMiddle,
                                                   line.width())
        painter.drawText(line, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)

    def _paint_flags(self, painter, thumb: QRect, flags) -> None:
        px = max(12, min(18, self.thumb_px // 7))
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        shown = list(flags[:MAX_FLAG_ICONS])
        x = paint_flags(painter, reversed(shown), thumb.right() - 2, thumb.top() + 3, px,
                        dpr=dpr, right_to_left=True)
        extra = len(flags) - len(shown)
        if extra > 0:
            painter.setFont(self._bold)
            painter.setPen(QColor("white"))
            fm = QFontMetrics(self._bold)
            text = f"+{extra}"
            w = fm.horizontalAdvance(text) + 4
            box = QRect(x - w, thumb.top() + 3, w, px)
            painter.fillRect(box, QColor(0, 0, 0, 140))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_seed(self, painter, thumb: QRect, seed: int) -> None:
        _glyph, colour, _title = SEED_MARKS[seed]
        d = max(14, min(22, self.thumb_px // 6))
        box = QRectF(thumb.left() + 3, thumb.bottom() - d - 2, d, d)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(colour if seed != SEED_PROPOSED else QColor(255, 255, 255, 210))
        painter.drawEllipse(box)
        pen = QPen(QColor("white") if seed != SEED_PROPOSED else colour, max(1.8, d / 8))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        c = box.center()
        s = d * 0.26
        if seed == SEED_APPROVED:
            path = QPainterPath(QPointF(c.x() - s, c.y()))
            path.lineTo(c.x() - s * 0.25, c.y() + s * 0.75)
            path.lineTo(c.x() + s, c.y() - s * 0.7)
            painter.drawPath(path)
        elif seed == SEED_REJECTED:
            painter.drawLine(QPointF(c.x() - s, c.y() - s), QPointF(c.x() + s, c.y() + s))
            painter.drawLine(QPointF(c.x() + s, c.y() - s), QPointF(c.x() - s, c.y() + s))
        else:  # proposed: a hollow ring ("to decide")
            painter.drawEllipse(c, s, s)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_group(self, painter, r: QRect, thumb: QRect, group: int) -> None:
        """Sub-cluster group: a stripe down the tile's left edge and a chip bottom-right."""
        colour = GROUP_COLOURS[(group - 1) % len(GROUP_COLOURS)]
        painter.fillRect(r.left(), r.top(), PAD - 1, r.height(), colour)
        painter.setFont(self._bold)
        text = f"g{group}"
        w = QFontMetrics(self._bold).horizontalAdvance(text) + 6
        h = QFontMetrics(self._bold).height()
        chip = QRect(thumb.right() - w - 2, thumb.bottom() - h - 2, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(chip, 3, 3)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QColor("white"))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_note(self, painter, thumb: QRect) -> None:
        """A folded corner top-left: the image has a note."""
        k = max(8, self.thumb_px // 9)
        path = QPainterPath(QPointF(thumb.left(), thumb.top()))
        path.lineTo(thumb.left() + k, thumb.top())
        path.lineTo(thumb.left(), thumb.top() + k)
        path.closeSubpath()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(CORRECTED_COLOUR)
        painter.drawPath(path)

