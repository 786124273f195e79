"""The inspector: the selected image large with everything known about it, the similarity
histograms behind its SDD, and the cluster's score distribution and SDD-vs-CR scatter."""

from __future__ import annotations

import html
import sys
from functools import partial

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fiqa_gui.core.review.answer_key import shown_attributes
from fiqa_gui.core.review.codes import CLUSTER_FLAGS, SEED_NAMES, TIER_NAMES, TIER_NONE, score_title
from fiqa_gui.core.review.cue_text import cue_text, cue_title
from fiqa_gui.core.review.history import image_history, local_time
from fiqa_gui.core.review.review_data import ReviewData
from fiqa_gui.core.review.score_columns import image_scores
from fiqa_gui.core.review.similarity import private_embeddings, similarity_picture
from fiqa_gui.gui.annotation_editor import AnnotationEditor
from fiqa_gui.gui.cluster_table import STATE_NAMES
from fiqa_gui.gui.flag_icons import flag_html, ordered
from fiqa_gui.gui.gallery_model import format_score
from fiqa_gui.gui.image_view import ScaledImage
from fiqa_gui.gui.jobs import LatestOnly, quiet_import
from fiqa_gui.gui.preview import read_scaled
from fiqa_gui.gui.rich_label import rich_label
from fiqa_gui.gui.score_distribution_plot import ScoreDistributionPlot
from fiqa_gui.gui.score_scatter_plot import ScoreScatterPlot
from fiqa_gui.gui.similarity_plot import SimilarityPlot
from fiqa_gui.gui.theme import CORRECTED_COLOUR, TIER_COLOURS

WIDE_INSPECTOR = 700  # px: from this width the plots sit beside the image and text
DECODE_BOX = 1024  # the preview is decoded at most this large, then scaled to fit
SDD_HELP = ("W1 is the distance between the two distributions in one repetition; the SDD "
            "label is W1 min-max normalised to 0–100 over the dataset and averaged over the "
            "repetitions. Far apart, positives on the right = a high score.")


MAIN_SCORES = ("sdd", "cr", "iq", "quality", "sdd_signed", "ccs", "nnccs")
HISTORY_SHOWN = 8


# In a project this large, a cluster switch paints the gallery's tiles first; the inspector's
# plots (~100 ms to lay out and paint at 1 M images) and the similarity picture (a second of
# sampling on a worker thread that holds the GIL for up to ~0.3 s at a time) follow once the
# curator rests on a cluster or image this long without scrolling, so that stepping through
# clusters or scrolling never waits for plots of clusters and images passed by.
REST_DELAY_MIN_IMAGES = 200_000
REST_DELAY_MS = 200
SCORING_MODULE = "fiqa_gui.core.scoring.sdd"  # what the similarity picture imports (torch)

def _title(name: str) -> str:
    return score_title(name) if name in MAIN_SCORES else cue_title(name)


def _value(name: str, value: float) -> str:
    text = cue_text(name, value)
    return html.escape(text) if text is not None else format_score(value, name)


def _pairs_table(items, *, bold: bool, small: bool = False) -> str:
    """name/value pairs laid out in two columns of an HTML table."""
    b0, b1 = ("<b>", "</b>") if bold else ("", "")
    cells = [f"<td>{html.escape(_title(n))}</td><td align='right'>{b0}{_value(n, v)}"
             f"{b1}&nbsp;&nbsp;&nbsp;</td>" for n, v in items]
    half = (len(cells) + 1) // 2
    rows = "".join(f"<tr>{cells[k]}{cells[k + half] if k + half < len(cells) else ''}</tr>"
                   for k in range(half))
    style = " style='font-size:small'" if small else ""
    return f"<table cellspacing='0' cellpadding='0'{style}>{rows}</table>"


def _picture(path, labels, index, params, repeat):
    """Worker side: a fresh copy-on-write map per request, so nothing leaks between requests."""
    quiet_import(SCORING_MODULE, "scipy.stats")
    return similarity_picture(private_embeddings(path), labels, index, params, repeat)


def _title_label(tooltip: str) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setToolTip(tooltip)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def _card(title: QLabel, plot: QWidget, extra: QWidget | None = None,
          below: QWidget | None = None) -> QWidget:
    """A plot with its title above it, as Qt text (wraps and elides; pyqtgraph titles don't),
    and optionally a legend below it (outside the plot, so it never covers data)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    head = QHBoxLayout()
    head.addWidget(title, 1)
    if extra is not None:
        head.addWidget(extra)
    layout.addLayout(head)
    layout.addWidget(plot, 1)
    if below is not None:
        layout.addWidget(below)
    plot.setMinimumSize(160, 110)
    return box


class InspectorPanel(QWidget):
    """Right-hand panel; the plots talk back through `image_clicked` and the range signals."""

    image_clicked = Signal(int)
    annotation_edited = Signal(str, object)  # field, value: for the selected images
    range_changed = Signal(float, float)
    range_cleared = Signal()
    similarity_shown = Signal()  # a picture arrived (the first one imported the scoring code)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.review: ReviewData | None = None
        self.embeddings_path = None
        self.image_id = -1
        self.cluster_id = -1
        self._plotted: tuple = (-1, np.zeros(0, dtype=np.int64))  # (cluster, its ids) plotted
        self.by = "sdd"
        self.similarity_error: str | None = None
        self.selected_count = 0
        self._async = LatestOnly(self)
        self._rest = QTimer(self)  # the plots of the cluster rested on (a large project)
        self._rest.setSingleShot(True)
        self._rest.setInterval(REST_DELAY_MS)
        self._rest.timeout.connect(self._plot_cluster)
        self._similarity_rest = QTimer(self)  # the similarity picture of the image rested on
        self._similarity_rest.setSingleShot(True)
        self._similarity_rest.setInterval(REST_DELAY_MS)
        self._similarity_rest.timeout.connect(self._similarity_rested)
        self._similarity_pending: tuple = (None, -1)

        self.image = ScaledImage()
        self.image.setToolTip("The selected image (Space or double-click in the gallery: "
                              "large preview)")
        self.details = rich_label(selectable=True)
        self.details_scroll = QScrollArea()
        self.details_scroll.setWidget(self.details)
        self.details_scroll.setWidgetResizable(True)
        self.details_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.details_scroll.setMinimumSize(150, 60)
        self.details_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editor = AnnotationEditor()
        self.header = QWidget()
        outer = QVBoxLayout(self.header)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        # image beside the text (narrow inspector) or above it (wide): see `_arrange`
        self.top = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.top.setContentsMargins(0, 0, 0, 0)
        self.top.addWidget(self.image, 0)
        self.top.addWidget(self.details_scroll, 1)
        outer.addLayout(self.top, 1)
        outer.addWidget(self.editor)

        self.similarity = SimilarityPlot()
        self.similarity.setToolTip(SDD_HELP)
        self.repeat_spin = QSpinBox()
        self.repeat_spin.setRange(1, 1)
        self.repeat_spin.setPrefix("repetition ")
        self.repeat_spin.setToolTip("Which of the run's random repetitions to show")
        self.similarity_title = _title_label(SDD_HELP)
        sim_box = _card(self.similarity_title, self.similarity, self.repeat_spin,
                        self.similarity.legend_label)

        self.distribution = ScoreDistributionPlot()
        self.distribution_title = _title_label(
            "Drag the edges of the shaded region to show only images in that score range; "
            "Esc or 'Clear range' shows them all again.")
        self.scatter = ScoreScatterPlot()
        self.scatter_title = _title_label(
            "Each point is an image of the cluster. Click one to select it in the gallery; "
            "selected images are ringed.")
        self.bottom = QSplitter(Qt.Orientation.Horizontal)
        self.bottom.addWidget(_card(self.distribution_title, self.distribution))
        self.bottom.addWidget(_card(self.scatter_title, self.scatter))
        self.bottom.setChildrenCollapsible(False)

        self.plots = QSplitter(Qt.Orientation.Vertical)
        self.plots.addWidget(sim_box)
        self.plots.addWidget(self.bottom)
        self.plots.setChildrenCollapsible(False)
        self.plots.setStretchFactor(0, 1)
        self.plots.setStretchFactor(1, 1)
        # header | plots side by side when the inspector is wide, stacked when narrow
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.header)
        self.splitter.addWidget(self.plots)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.wide: bool | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 4, 4)
        layout.addWidget(self.splitter)
        self._arrange()

        self.scatter.image_clicked.connect(self.image_clicked)
        self.editor.edited.connect(self.annotation_edited)
        self.distribution.range_changed.connect(self.range_changed)
        self.distribution.range_cleared.connect(self.range_cleared)
        self.repeat_spin.valueChanged.connect(lambda _v: self._request_similarity())
        self.show_image(-1)

    # ----------------------------------------------------------------- content
    def set_review(self, review: ReviewData | None) -> None:
        self._async.forget()
        self._rest.stop()
        self._similarity_rest.stop()
        self.review = review
        self.embeddings_path = None
        self.similarity_error = None
        self.image_id = self.cluster_id = -1
        if review is not None:
            try:
                if review.project.embeddings() is not None:  # checks the file is there
                    self.embeddings_path = review.project.embeddings_path()
            except Exception as err:  # noqa: BLE001 - shown in the plot, not raised
                self.similarity_error = str(err)
            params = (review.run.params if review.run is not None else {}) or {}
            repeats = 1 if params.get("exact") else int(params.get("repeats", 1) or 1)
            self.repeat_spin.blockSignals(True)
            self.repeat_spin.setRange(1, max(1, repeats))
            self.repeat_spin.setValue(1)
            self.repeat_spin.setSuffix(f" of {max(1, repeats)}")
            self.repeat_spin.blockSignals(False)
        self.show_image(-1)

    def show_cluster(self, cluster_id: int, ids: np.ndarray, by: str) -> None:
        """Distribution of score `by` and the SDD-vs-CR scatter over the cluster's images; in
        a large project once the curator has rested on the cluster for REST_DELAY_MS."""
        rv = self.review
        self.cluster_id, self.by = cluster_id, by
        self._plotted = (cluster_id, ids)
        if rv is None:
            return
        if rv.n_images >= REST_DELAY_MIN_IMAGES:
            self._rest.start()  # restarted by each switch
            return
        self._plot_cluster()

    @property
    def plots_pending(self) -> bool:
        """A cluster's plots wait for the curator to rest on it."""
        return self._rest.isActive()

    @property
    def similarity_pending(self) -> bool:
        """The similarity picture waits for the curator to rest on the image."""
        return self._similarity_rest.isActive()

    def _plot_cluster(self) -> None:
        rv = self.review
        if rv is None or self.cluster_id < 0:
            return
        cluster_id, ids = self._plotted
        by = self.by
        name = html.escape(rv.summaries.names[cluster_id])
        title = score_title(by)
        self.distribution_title.setText(f"<b>{html.escape(title)}</b> in {name} "
                                        "<small>· drag the region to filter</small>")
        self.scatter_title.setText(f"<b>SDD vs CR</b> in {name} "
                                   "<small>· click a point to select</small>")
        if rv.scores is None:
            self.distribution.show_values(np.zeros(0), title, "not scored yet")
            self.scatter.show_points(ids, np.full(len(ids), np.nan), np.full(len(ids), np.nan),
                                     "SDD", "CR", "not scored yet")
            return
        values = np.asarray(rv.scores[by], dtype=float)[ids]
        self.distribution.show_values(values, title, f"{title} in {name}")
        self.scatter.show_points(ids, np.asarray(rv.scores["sdd"], float)[ids],
                                 np.asarray(rv.scores["cr"], float)[ids], "SDD", "CR",
                                 f"SDD vs CR in {name}")
        if self.image_id >= 0:
            self.distribution.mark(float(rv.scores[by][self.image_id]))
            self.scatter.mark_current(self.image_id)

    def show_image(self, image_id: int) -> None:
        self.image_id = int(image_id)
        rv = self.review
        if rv is None or image_id < 0:
            self.image.setPixmap(QPixmap())
            self.image.setText("no image\nselected")
            self.details.setText("")
            self.editor.show_values(None, title="<b>Your annotations</b>")
            self.distribution.mark(None)
            self.scatter.mark_current(-1)
            self._async.forget()
            self.similarity.show_message("Select an image to see why it got its SDD score.")
            self.similarity_title.setText("<b>Why this SDD</b> <small>— an image's similarity "
                                          "to its own cluster vs. other clusters</small>")
            return
        self._show_pixels(image_id)
        self.details.setText(self._details_html(image_id))
        self.details_scroll.verticalScrollBar().setValue(0)  # each image starts at its flags
        self._show_editor()
        if rv.scores is not None:
            self.distribution.mark(float(rv.scores[self.by][image_id]))
        self.scatter.mark_current(image_id)
        sdd = (format_score(float(rv.scores["sdd"][image_id]), "sdd")
               if rv.scores is not None else "–")
        self.similarity_title.setText(
            f"<b>Why this SDD</b> · image #{image_id}, SDD <b>{sdd}</b> "
            "<small>— its similarity to its own cluster vs. other clusters</small>")
        self._request_similarity()

    def highlight(self, ids) -> None:
        self.scatter.highlight(ids)
        self.selected_count = len(ids)
        if self.review is not None and self.image_id >= 0:
            self._show_editor()

    def refresh_annotations(self) -> None:
        """The store changed for the shown image (or its cluster): re-read the text and the
        editor, keep the pixels and plots."""
        if self.review is not None and self.image_id >= 0:
            self.details.setText(self._details_html(self.image_id))
            self._show_editor()

    def _show_editor(self) -> None:
        rv, i = self.review, self.image_id
        if rv.read_only:
            title = "<b>Your annotations</b> <small>(read-only project)</small>"
        elif self.selected_count > 1:
            title = (f"<b>Your annotations</b> <small>· edits apply to the "
                     f"<b>{self.selected_count}</b> selected images; #{i} shown</small>")
        else:
            title = f"<b>Your annotations</b> <small>· image #{i}</small>"
        self.editor.show_values(rv.annotations.of(i), key=i, title=title,
                                editable=not rv.read_only)

    def reset_range(self) -> None:
        self.distribution.reset_range()

    def apply_theme(self, dark: bool) -> None:
        for plot in (self.similarity, self.distribution, self.scatter):
            plot.apply_theme(dark)

    def shutdown(self) -> None:
        self._async.forget()
        self._async.wait()

    def wait_similarity(self, msecs: int = -1) -> bool:
        return self._async.wait(msecs)

    # ----------------------------------------------------------------- pieces
    def _show_pixels(self, i: int) -> None:
        rv = self.review
        if rv.dataset.unreadable[i]:
            self.image.setPixmap(QPixmap())
            self.image.setText("unreadable\nfile")
            return
        pix = read_scaled(str(rv.dataset.absolute_path(i)), QSize(DECODE_BOX, DECODE_BOX))
        if pix.isNull():
            self.image.setPixmap(QPixmap())
            self.image.setText("cannot\ndecode")
            return
        self.image.setPixmap(pix)

    # ----------------------------------------------------------------- layout
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """Wide: [image over text | plots]; narrow: [image beside text] over the plots. The
        image takes what its column allows (square), the text the rest."""
        wide = self.width() >= WIDE_INSPECTOR
        if wide != self.wide:
            self.wide = wide
            self.splitter.setOrientation(Qt.Orientation.Horizontal if wide
                                         else Qt.Orientation.Vertical)
            self.top.setDirection(QBoxLayout.Direction.TopToBottom if wide
                                  else QBoxLayout.Direction.LeftToRight)
            total = max(1, self.width() if wide else self.height())
            self.splitter.setSizes([int(total * 0.42), total - int(total * 0.42)])
        if wide:
            column = max(120, self.header.width())
            side = max(120, min(column, int(self.height() * 0.45)))
            self.image.setMinimumSize(120, side)
            self.image.setMaximumSize(column, side)
        else:
            side = max(110, min(int(self.width() * 0.42), self.header.height()
                                - self.editor.sizeHint().height() - 4, 300))
            self.image.setMinimumSize(96, 96)
            self.image.setMaximumSize(side, side)
            self.image.setFixedWidth(side)

    def _details_html(self, i: int) -> str:
        """Path and cluster; flags and why (what a curator must see first); the curator's
        annotations; the scores and the tier; the manifest's attributes; the cluster (its
        flags, review state, how SDD and quality rank it); the image's history; the cues; the
        run."""
        rv = self.review
        ds = rv.dataset
        c = int(rv.labels[i])
        e = html.escape
        w, h = (int(v) for v in ds.image_sizes[i]) if ds.image_sizes is not None else (0, 0)
        rows = [f"<b>{e(ds.paths[i])}</b>",
                f"image #{i} · cluster <b>{e(rv.summaries.names[c])}</b> (#{c}, "
                f"{int(rv.summaries.sizes[c]):,} images)" + (f" · {w}×{h} px" if w else "")]
        attrs = [(f"<i style='color:gray'>{e(label)}: {e(value)}</i>" if key else
                  f"{e(label)}: {e(value)}")
                 for label, value, key in shown_attributes(ds.attributes, i)]
        mine = self._annotations_html(i)
        if rv.scores is None:
            rows.append("<i>not scored yet</i>")
            if mine:
                rows.append(mine)
            if attrs:
                rows.append("<span style='font-size:small'>" + " · ".join(attrs) + "</span>")
            rows += self._history_html(i)
            return "<br>".join(rows)
        own = [f for f in ordered(rv.flags_of(i)) if f not in CLUSTER_FLAGS]
        why = {}
        for flag, text in rv.explanations.get(i, []):
            why.setdefault(flag, text)
        for flag in own:
            rows.append(flag_html(flag, why.get(flag)))
        rows += self._cluster_flags_html(c)
        if mine:
            rows.append(mine)
        values = image_scores(rv.scores, i, rv.score_names)
        main = [(n, v) for n, v in values if n in MAIN_SCORES]
        cues = [(n, v) for n, v in values if n not in MAIN_SCORES]
        rows.append(_pairs_table(main, bold=True))
        computed = int(rv.computed_tiers()[i])
        colour = TIER_COLOURS[computed].name()
        rows.append(f"dataset band: <b style='color:{colour}'>{TIER_NAMES[computed]}</b> "
                    f"<span style='font-size:small'>({e(score_title(rv.tier_source))} thirds "
                    "of the whole dataset; the seed set's <i>cluster tier</i> is the third "
                    "within the cluster)</span>")
        if attrs:
            rows.append("<span style='font-size:small'>" + " · ".join(attrs) + "</span>")
        rows += self._cluster_html(c)
        rows += self._history_html(i)
        if cues:
            rows.append("<span style='font-size:small'>cues and parts:</span>"
                        + _pairs_table(cues, bold=False, small=True))
        if rv.run is not None:
            rows.append(f"<span style='font-size:small'>run #{rv.run.id} ({e(rv.run.kind)}) · "
                        f"{e(local_time(rv.run.created_at))} · device "
                        f"{e(str(rv.run.device))}</span>")
        return "<br>".join(rows)

    def _annotations_html(self, i: int) -> str:
        """The curator's own values, in their colour (empty when there are none)."""
        a = self.review.annotations
        parts = []
        if a.tier[i] != TIER_NONE:
            t = int(a.tier[i])
            parts.append(f"tier <b style='color:{TIER_COLOURS[t].name()}'>{TIER_NAMES[t]}</b>")
        if np.isfinite(a.corrected[i]):
            parts.append(f"corrected score <b>{a.corrected[i]:g}</b>")
        if a.wrong[i]:
            parts.append("<b style='color:#d7301f'>wrong identity</b>")
        if a.seed[i]:
            parts.append(f"seed <b>{SEED_NAMES[int(a.seed[i])]}</b>")
        if not parts:
            return ""
        return (f"<span style='color:{CORRECTED_COLOUR.name()}'>✎ yours:</span> "
                + " · ".join(parts))

    def _cluster_flags_html(self, c: int) -> list[str]:
        """The cluster's own flags and why (they concern every image of it)."""
        rv = self.review
        why = dict(rv.cluster_explanations.get(c, []))
        return ["<span style='font-size:small'>cluster: " + flag_html(flag, why.get(flag))
                + "</span>" for flag in ordered(rv.summaries.flags[c]) if flag in CLUSTER_FLAGS]

    def _cluster_html(self, c: int) -> list[str]:
        rv = self.review
        e = html.escape
        s = rv.summaries
        rows = [f"<span style='font-size:small'><b>Cluster {e(s.names[c])}</b> · "
                f"{e(STATE_NAMES.get(s.review_state[c], s.review_state[c]))}</span>"]
        shift = rv.rank_shift(c)
        if shift is not None and shift.n >= 3 and np.isfinite(shift.spearman):
            text = (f"SDD → Quality ranking: Spearman <b>{shift.spearman:.2f}</b> over "
                    f"{shift.n} images")
            if shift.mover >= 0:
                way = "up" if shift.move > 0 else "down"
                text += (f"; biggest mover #{shift.mover} "
                         f"({e(rv.dataset.paths[shift.mover].rsplit('/', 1)[-1])}) "
                         f"{way} {abs(shift.move)} places")
            rows.append(f"<span style='font-size:small'>{text}</span>")
        return rows

    def _history_html(self, i: int) -> list[str]:
        try:
            history = image_history(self.review.project, i, HISTORY_SHOWN + 1)
        except Exception:  # noqa: BLE001 - the history is a help, never a reason to fail
            return []
        if not history:
            return []
        e = html.escape
        lines = [f"{e(local_time(at))} · {e(what)}"
                 for at, what in history[:HISTORY_SHOWN]]
        if len(history) > HISTORY_SHOWN:
            lines.append("… (older entries in the audit log)")
        return ["<span style='font-size:small'><b>History</b> (newest first)<br>"
                + "<br>".join(lines) + "</span>"]

    def _request_similarity(self) -> None:
        rv, i = self.review, self.image_id
        if rv is None or i < 0:
            return
        if rv.scores is None:
            self.similarity.show_message("Not scored yet: use Scoring ▸ Score now.")
            return
        if self.similarity_error or self.embeddings_path is None:
            self.similarity.show_message(self.similarity_error or "The project has no embeddings.")
            return
        repeat = self.repeat_spin.value() - 1
        params = rv.run.params if rv.run is not None else {}
        if self.similarity.picture is None or self.similarity.picture_of != i:
            # never leave an earlier message ("Select an image…") up while this one computes
            self.similarity.show_message(f"Computing the similarity sets of image #{i}…")
        fn = partial(_picture, self.embeddings_path, rv.labels, i, params, repeat)
        if rv.n_images >= REST_DELAY_MIN_IMAGES or SCORING_MODULE not in sys.modules:
            # a second of sampling over the whole project on a worker that often holds the
            # GIL: only for the image the curator rests on, not while they switch or scroll;
            # so too the first picture of any project, which imports torch (the GIL held for
            # long stretches: beside the window's first paint, a stall of ~0.5 s)
            self._async.forget()
            self._similarity_pending = (fn, i)
            self._similarity_rest.start()
            return
        self._async.submit(fn, lambda pic: self._on_picture(pic, i), self._on_error)

    def _similarity_rested(self) -> None:
        fn, i = self._similarity_pending
        if i == self.image_id:
            self._async.submit(fn, lambda pic: self._on_picture(pic, i), self._on_error)

    def postpone(self) -> None:
        """The curator is busy (scrolling the gallery): what waits for a rest waits longer."""
        for timer in (self._rest, self._similarity_rest):
            if timer.isActive():
                timer.start()

    def _on_picture(self, pic, i: int) -> None:
        if i != self.image_id:
            return
        self.similarity.show_picture(pic)
        self.similarity.picture_of = i
        self.similarity_shown.emit()

    def _on_error(self, err: BaseException) -> None:
        if isinstance(err, ImportError):
            self.similarity.show_message("The similarity sets need the scoring package,\n"
                                         "which is not installed.")
        else:
            self.similarity.show_message(f"Cannot compute the similarity sets:\n{err}")
