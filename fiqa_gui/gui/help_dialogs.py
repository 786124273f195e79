"""Help → What the scores mean (a paragraph for each score and flag, from
`core.review.score_guide`) and Help → About."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from fiqa_gui.core.review.score_guide import guide_html


class ScoreGuideDialog(QDialog):
    """Non-modal, so it stays open beside the window while the curator works."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("What the scores mean")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(guide_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(640, 620)


def version() -> str:
    try:
        return metadata.version("fiqa-gui")
    except metadata.PackageNotFoundError:
        return "development build"


def about_html() -> str:
    import PySide6

    return (f"<h3>FIQA Curator {version()}</h3>"
            "<p>Review and correct face-image quality labels: SDD-FIQA and CR-FIQA computed on "
            "your embeddings, the reasons behind each score, flags where those labels are "
            "known to be wrong, stratified seed sets, and exports for training.</p>"
            "<p>Everything runs on this machine; nothing is downloaded at run time.</p>"
            f"<p><small>Python {platform.python_version()} · PySide6 {PySide6.__version__} · "
            f"{platform.system()}</small></p>")


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About FIQA Curator")
        self.text = QTextBrowser()
        self.text.setHtml(about_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(460, 280)
