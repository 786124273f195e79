"""The keyboard-shortcut help (`?` / F1): every shortcut of the window, grouped, and a legend of
what the marks on a gallery tile and the flag icons mean."""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from fiqa_gui.gui.flag_icons import FLAG_INFO, FLAG_ORDER, flag_pixmap
from fiqa_gui.gui.shortcuts import GROUP_ORDER
from fiqa_gui.gui.theme import CORRECTED_COLOUR, TIER_COLOURS, TIER_LETTERS

LEGEND = (
    ("chip", "Tier chip: <b>filled</b> = your tier, <b>outlined</b> = the dataset band "
     "(Quality thirds of the whole dataset); H high · M mid · L low · U unusable"),
    ("score", f"<b style='color:{CORRECTED_COLOUR.name()}'>✎72</b> after the score: your "
     "corrected score"),
    ("wrong", "<b style='color:#d7301f'>✕</b> across the image, dimmed: marked wrong identity"),
    ("seed", "Bottom-left: <b style='color:#1a9850'>✓</b> approved seed · "
     "<b style='color:#737373'>✕</b> rejected seed · ○ proposed seed"),
    ("note", f"<b style='color:{CORRECTED_COLOUR.name()}'>◤</b> top-left corner: the image "
     "has a note"),
)


class ShortcutsDialog(QDialog):
    """Non-modal help; `rows` are (group, what, keys) for every shortcut of the window."""

    def __init__(self, rows: list[tuple[str, str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = rows
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        doc = self.browser.document()
        for flag in FLAG_ORDER:
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"flag:{flag}"),
                            flag_pixmap(flag, 14, 2.0).toImage())
        self.browser.setHtml(self.html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(640, 720)

    def html(self) -> str:
        e = html.escape
        groups: dict[str, list[tuple[str, str]]] = {}
        for group, what, keys in self.rows:
            groups.setdefault(group, []).append((keys, what))
        order = [g for g in GROUP_ORDER if g in groups] + sorted(
            g for g in groups if g not in GROUP_ORDER)
        parts = ["<p>Image keys work while the gallery has the focus (click a thumbnail); "
                 "they act on every selected image as one undo step.</p>"
                 "<table cellspacing='0' cellpadding='2' width='100%'>"]
        for group in order:
            parts.append(f"<tr><td colspan='2'><br><big><b>{e(group)}</b></big></td></tr>")
            for keys, what in groups[group]:
                parts.append(f"<tr><td><b>{e(keys)}</b>&nbsp;&nbsp;</td><td>{e(what)}</td></tr>")
        parts.append("</table>")
        parts.append("<h3>Gallery marks</h3><table cellspacing='0' cellpadding='2'>")
        chips = " ".join(
            f"<span style='background:{TIER_COLOURS[t].name()}; color:white'>"
            f"&nbsp;{TIER_LETTERS[t]}&nbsp;</span>" for t in (2, 1, 0, -2))
        for key, text in LEGEND:
            lead = chips if key == "chip" else ""
            parts.append(f"<tr><td>{lead}</td><td>{text}</td></tr>")
        parts.append("</table><h3>Flags</h3><table cellspacing='0' cellpadding='2'>")
        for flag in FLAG_ORDER:
            info = FLAG_INFO[flag]
            parts.append(f"<tr><td><img src='flag:{flag}' width='14' height='14'></td>"
                         f"<td><b>{e(info.title)}</b>: {e(info.meaning)}</td></tr>")
        parts.append("</table>")
        return "".join(parts)

    def text(self) -> str:
        return self.browser.toPlainText()
