"""The inspector's editor of the curator's annotations: tier, corrected score, seed decision,
wrong identity and a note. It holds no state of its own: it shows what the store says and turns
each edit into one `edited(field, value)` request, which the window runs as an undoable action
on the selected images (or the current one)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from fiqa_gui.core.curation.commands import SEED_STATES, TIERS

NO_SCORE = -1.0  # the spin box's "none" value (shown as "—")


class AnnotationEditor(QWidget):
    """Tier and seed, corrected score and wrong identity, then the note: three short rows that
    fit the narrowest inspector without cutting a label."""

    edited = Signal(str, object)  # annotation field, new value (None clears)
    finished = Signal()  # Return pressed in a field: focus can go back to the gallery

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._values: dict = {}
        self._key = None
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.tier = QComboBox()
        self.tier.addItem("— computed", None)
        for t in TIERS:
            self.tier.addItem(t, t)
        self.tier.setToolTip("Your quality tier for the image: the corrected label "
                             "(keys 1–4 or H/M/L/U in the gallery, 0 clears)")
        self.seed = QComboBox()
        self.seed.addItem("—", None)
        for st in SEED_STATES:
            self.seed.addItem(st, st)
        self.seed.setToolTip("Seed decision (A approves, R rejects in the gallery)")
        self.wrong = QCheckBox("Wrong identity")
        self.wrong.setToolTip("Not the cluster's person (W toggles in the gallery)")
        self.score = QDoubleSpinBox()
        self.score.setRange(NO_SCORE, 100.0)
        self.score.setDecimals(1)
        self.score.setSingleStep(5.0)
        self.score.setSpecialValueText("—")
        self.score.setKeyboardTracking(False)
        self.score.setToolTip("Your corrected quality score, 0–100 ('—' = none; C in the "
                              "gallery edits it, Return saves)")
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note (E in the gallery; Return saves)")
        self.note.setClearButtonEnabled(True)

        for combo in (self.tier, self.seed):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(self.title, 0, 0, 1, 5)
        grid.addWidget(QLabel("Tier"), 1, 0)
        grid.addWidget(self.tier, 1, 1)
        grid.addWidget(QLabel("Seed"), 1, 2)
        grid.addWidget(self.seed, 1, 3)
        grid.addWidget(QLabel("Score"), 2, 0)
        grid.addWidget(self.score, 2, 1)
        grid.addWidget(self.wrong, 2, 2, 1, 2)
        grid.addWidget(self.note, 3, 0, 1, 5)
        grid.setColumnStretch(4, 1)

        self.tier.activated.connect(lambda i: self._emit("tier", self.tier.itemData(i)))
        self.seed.activated.connect(lambda i: self._emit("seed_state", self.seed.itemData(i)))
        self.wrong.clicked.connect(lambda checked: self._emit("wrong_identity", bool(checked)))
        self.score.editingFinished.connect(self._score_done)
        self.note.editingFinished.connect(self._note_done)
        self.note.returnPressed.connect(self.finished)
        self.score.lineEdit().returnPressed.connect(self.finished)
        self.show_values(None)

    def show_values(self, values: dict | None, *, key=None, title: str = "",
                    editable: bool = True) -> None:
        """Show an image's annotations (`Annotations.of`), or nothing (None). `key` names what
        is shown (the image id): a note being typed survives a refresh of the same key only."""
        same = key is not None and key == self._key
        self._key = key
        self._values = dict(values or {})
        for w in (self.tier, self.seed, self.wrong, self.score, self.note):
            w.blockSignals(True)
        v = self._values
        self.tier.setCurrentIndex(max(0, self.tier.findData(v.get("tier"))))
        self.seed.setCurrentIndex(max(0, self.seed.findData(v.get("seed_state"))))
        self.wrong.setChecked(bool(v.get("wrong_identity")))
        score = v.get("corrected_score")
        self.score.setValue(NO_SCORE if score is None else float(score))
        if not (same and self.note.hasFocus()):
            self.note.setText(v.get("note") or "")
        for w in (self.tier, self.seed, self.wrong, self.score, self.note):
            w.blockSignals(False)
            w.setEnabled(values is not None and editable)
        self.title.setText(title)

    def _emit(self, field: str, value) -> None:
        if self._values.get(field) != value:
            self.edited.emit(field, value)

    def _score_done(self) -> None:
        value = self.score.value()
        new = None if value <= NO_SCORE else round(float(value), 1)
        old = self._values.get("corrected_score")
        if old is not None:
            old = round(float(old), 1)
        if new != old and self.score.isEnabled():
            self.edited.emit("corrected_score", new)

    def _note_done(self) -> None:
        text = self.note.text().strip() or None
        if text != (self._values.get("note") or None) and self.note.isEnabled():
            self.edited.emit("note", text)

    def edit_score(self) -> None:
        self.score.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.score.selectAll()

    def edit_note(self) -> None:
        self.note.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.note.selectAll()
