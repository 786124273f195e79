"""Paints one gallery tile: thumbnail (or placeholder), tier frame, score badge, state marks."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from fiqa_gui.gui.gallery_model import TILE_ROLE, format_score
from fiqa_gui.gui.theme import FLAG_COLOUR, TIER_COLOURS, TIER_LETTERS
from fiqa_gui.gui.thumbnail_loader import FAILED

PAD = 4  # inside the tile, around the thumbnail
FRAME = 3  # tier frame width


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

    def set_thumb_size(self, px: int) -> None:
        self.thumb_px = int(px)

    def tile_size(self) -> QSize:
        side = self.thumb_px + 2 * PAD
        return QSize(side, side + self._caption_h)

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
        tier_colour = TIER_COLOURS.get(tile.tier, TIER_COLOURS[-1])
        pen = QPen(tier_colour, FRAME)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(thumb).adjusted(-FRAME / 2 + 0.5, -FRAME / 2 + 0.5,
                                                FRAME / 2 - 0.5, FRAME / 2 - 0.5))
        self._paint_caption(painter, r, thumb, tile, tier_colour, pal, selected)
        if tile.flags:
            self._paint_flag(painter, thumb, len(tile.flags))
        if option.state & QStyle.StateFlag.State_HasFocus:
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

    def _paint_caption(self, painter, r: QRect, thumb: QRect, tile, tier_colour, pal,
                       selected: bool) -> None:
        cap = QRect(r.left() + PAD, thumb.bottom() + 2, thumb.width(), self._caption_h - 2)
        chip = QRect(cap.left(), cap.top() + 1, cap.height() - 2, cap.height() - 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(tier_colour)
        painter.drawRoundedRect(chip, 3, 3)
        painter.setFont(self._bold)
        painter.setPen(QColor("white"))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, TIER_LETTERS.get(tile.tier, "–"))
        painter.setPen(pal.color(QPalette.ColorRole.HighlightedText if selected
                                 else QPalette.ColorRole.Text))
        painter.setFont(self._font)
        text_rect = cap.adjusted(chip.width() + 4, 0, 0, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         format_score(tile.score))

    def _paint_flag(self, painter, thumb: QRect, count: int) -> None:
        text = "⚑" if count == 1 else f"⚑{count}"
        fm = QFontMetrics(self._bold)
        w = fm.horizontalAdvance(text) + 6
        h = fm.height() + 2
        box = QRect(thumb.right() - w - 1, thumb.top() + 2, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(FLAG_COLOUR)
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(QColor("white"))
        painter.setFont(self._bold)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
