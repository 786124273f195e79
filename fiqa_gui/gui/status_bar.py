"""Status bar: the running job (stage, progress, Cancel), the device, and project counts."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from fiqa_gui.gui.jobs import JobRunner
from fiqa_gui.gui.theme import READ_ONLY_COLOUR


class StatusBar(QStatusBar):
    """Shows what the `JobRunner` is doing and lets the user cancel it."""

    cancel_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.stage = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(220)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.counts = QLabel()
        self.read_only = QLabel(" READ-ONLY ")
        self.read_only.setStyleSheet(
            f"QLabel {{ background: {READ_ONLY_COLOUR.name()}; color: black; "
            "font-weight: bold; border-radius: 3px; padding: 0 4px; }")
        self.read_only.setToolTip("The project is open read-only (in use by another FIQA "
                                  "Curator, or its folder cannot be written): nothing can be "
                                  "changed")
        self.read_only.setVisible(False)
        self.device = QLabel("device: …")
        self.device.setToolTip("Where scoring runs: CUDA when available, else the CPU")
        self.addWidget(self.stage)
        self.addWidget(self.bar)
        self.addWidget(self.cancel_button)
        self.addPermanentWidget(self.read_only)
        self.addPermanentWidget(self.counts)
        self.addPermanentWidget(self.device)
        self._set_running(False)

    def attach(self, jobs: JobRunner) -> None:
        jobs.started.connect(self._on_started)
        jobs.progressed.connect(self._on_progress)
        jobs.finished.connect(self._on_finished)
        self.cancel_requested.connect(jobs.cancel)

    def _set_running(self, running: bool, cancellable: bool = True) -> None:
        self.bar.setVisible(running)
        self.cancel_button.setVisible(running and cancellable)
        self.cancel_button.setEnabled(True)
        self.stage.setVisible(running)

    def _on_started(self, title: str, cancellable: bool) -> None:
        self.clearMessage()
        self.stage.setText(f"{title}…")
        self.bar.setRange(0, 0)  # busy until the first progress report
        self._set_running(True, cancellable)

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        self.stage.setText(stage)
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)

    def _on_finished(self, title: str, outcome: str) -> None:
        self._set_running(False)
        if outcome == "cancelled":
            self.showMessage(f"{title}: cancelled", 5000)
        elif outcome == "failed":
            self.showMessage(f"{title}: failed", 5000)
        else:
            self.showMessage(f"{title}: done", 3000)

    def on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.stage.setText("cancelling…")

    def set_read_only(self, read_only: bool) -> None:
        self.read_only.setVisible(bool(read_only))

    def set_counts(self, text: str) -> None:
        self.counts.setText(text)

    def set_device(self, text: str, tooltip: str | None = None) -> None:
        self.device.setText(text)
        if tooltip:
            self.device.setToolTip(tooltip)
