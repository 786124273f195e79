"""Every keyboard shortcut of the window in one table: the actions and menus are built from it,
and the help dialog lists it, so the two never disagree.

Scopes: `window` keys work wherever the focus is (text fields keep their own typing and Ctrl+Z);
`gallery` keys act on the selected images of the view shown (the cluster gallery, or a view
over the whole dataset: flagged, ranked, compare) and work wherever that selection is shown —
the gallery, the cluster list, the inspector's plots, the map, the large preview — but never
while a text field has the focus (a line edit or spin box takes a typed digit or letter as
text, so typing a note or a filter never changes a label by accident).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence


@dataclass(frozen=True)
class Shortcut:
    name: str                 # the handler's key in the window
    text: str                 # menu text
    keys: tuple[str, ...] = ()
    scope: str = "window"     # "window" or "gallery"
    menu: str | None = None   # menu path ("Image", "Cluster/Review state"); None: no menu
    group: str = ""           # section of the help dialog
    separator: bool = False   # a separator before it in its menu
    tip: str = ""


S = Shortcut
SHORTCUTS: tuple[Shortcut, ...] = (
    # ---- File
    S("new_images", "New project from image folder…", ("Ctrl+N",), menu="File", group="Project"),
    S("new_manifest", "New project from manifest…", menu="File", group="Project"),
    S("open", "&Open project…", ("Ctrl+O",), menu="File", group="Project"),
    S("open_read_only", "Open project &read-only…", menu="File", group="Project",
      tip="Look at a project without changing it (also while another window edits it)"),
    S("demo", "Open the &demo project", menu="File", group="Project"),
    S("export", "&Export…", ("Ctrl+E",), menu="File", group="Project", separator=True,
      tip="Write the approved seed set, corrected labels and audit log for training"),
    S("close", "&Close project", ("Ctrl+W",), menu="File", group="Project", separator=True),
    S("quit", "&Quit", ("Ctrl+Q",), menu="File", group="Project"),
    # ---- Edit
    S("undo", "&Undo", ("Ctrl+Z",), menu="Edit", group="Undo"),
    S("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), menu="Edit", group="Undo"),
    S("history", "Undo &history", ("Ctrl+H",), menu="Edit", group="Undo", separator=True,
      tip="Show every action of this session; double-click one to go back to it"),
    # ---- Image (gallery focus)
    S("tier_high", "Tier &high", ("1", "H"), "gallery", "Image", "Label the selected images"),
    S("tier_mid", "Tier &mid", ("2", "M"), "gallery", "Image", "Label the selected images"),
    S("tier_low", "Tier &low", ("3", "L"), "gallery", "Image", "Label the selected images"),
    S("tier_unusable", "Tier &unusable", ("4", "U"), "gallery", "Image",
      "Label the selected images"),
    S("tier_clear", "&Clear tier (back to the computed one)", ("0", "Backspace"), "gallery",
      "Image", "Label the selected images"),
    S("seed_approve", "&Approve as seed", ("A",), "gallery", "Image",
      "Label the selected images", separator=True),
    S("seed_reject", "&Reject as seed", ("R",), "gallery", "Image",
      "Label the selected images"),
    S("seed_clear", "Clear seed decision", (), "gallery", "Image", "Label the selected images"),
    S("wrong_identity", "Toggle &wrong identity", ("W",), "gallery", "Image",
      "Label the selected images", separator=True),
    S("corrected_score", "Edit corrected &score", ("C",), "gallery", "Image",
      "Label the selected images", tip="Type a 0–100 score in the inspector; Return saves"),
    S("note", "Edit &note", ("E",), "gallery", "Image", "Label the selected images"),
    S("move", "&Move selected images to cluster…", ("Ctrl+M",), "gallery", "Image",
      "Clusters", separator=True),
    S("move_nearer", "Move to the &nearer cluster (identity suspect)", ("Shift+M",), "gallery",
      "Image", "Clusters", tip="Move the identity suspect shown to the cluster its flag says "
      "it is nearer to (Compare shows both clusters' anchors); Ctrl+Z undoes"),
    S("next_image", "Next image", ("J",), "gallery", "Image", "Move around", separator=True),
    S("prev_image", "Previous image", ("K",), "gallery", "Image", "Move around"),
    # ---- Cluster
    S("next_cluster", "&Next cluster", ("N", "Alt+Down", "]"), menu="Cluster",
      group="Move around"),
    S("prev_cluster", "&Previous cluster", ("P", "Alt+Up", "["), menu="Cluster",
      group="Move around"),
    S("next_flagged", "Next &flagged item", ("F",), menu="Cluster", group="Move around",
      tip="The next flagged image of the cluster, then the next flagged cluster"),
    S("done_next", "Mark &done and go to the next cluster", ("D",), menu="Cluster",
      group="Clusters", separator=True),
    S("state_unreviewed", "Unreviewed", menu="Cluster/Review state", group="Clusters"),
    S("state_in_review", "In review", menu="Cluster/Review state", group="Clusters"),
    S("state_done", "Done", menu="Cluster/Review state", group="Clusters"),
    S("merge", "Merge this cluster into…", ("Ctrl+Shift+M",), menu="Cluster",
      group="Clusters"),
    S("filter_clusters", "Filter clusters", ("Ctrl+F",), menu="Cluster", group="Move around",
      separator=True),
    # ---- View
    S("view_cluster", "&Cluster gallery", ("Ctrl+1",), menu="View", group="Views"),
    S("view_flagged", "&Flagged images of the whole dataset", ("Ctrl+2",), menu="View",
      group="Views", tip="Every flagged image across clusters, by flag kind"),
    S("view_ranked", "&All images ranked", ("Ctrl+3",), menu="View", group="Views",
      tip="Every image of the dataset ranked by one score"),
    S("view_compare", "C&ompare (identity suspects, near duplicates)", ("Ctrl+4",),
      menu="View", group="Views", tip="The current image beside its own cluster's and the "
      "nearer cluster's anchors, or its near-duplicate group"),
    S("view_map", "Embedding &map", ("Ctrl+5",), menu="View", group="Views",
      tip="The cluster (or a dataset sample) on the first two principal axes of its "
      "embeddings; click a point to select its image"),
    S("rank_next", "Rank by the next score", ("S",), menu="View", group="View",
      separator=True),
    S("reverse", "Reverse the order", ("O",), menu="View", group="View"),
    S("larger", "Larger thumbnails", ("Ctrl+=", "Ctrl++"), menu="View", group="View"),
    S("smaller", "Smaller thumbnails", ("Ctrl+-",), menu="View", group="View"),
    S("clear_filters", "Show all images (clear gallery filters)", menu="View", group="View"),
    # ---- Scoring
    S("score_now", "Score now", ("Ctrl+Shift+S",), menu="Scoring", group="Scoring"),
    S("rescore", "Re-score with approved seeds", ("Ctrl+Shift+R",), menu="Scoring",
      group="Scoring", tip="Recompute Quality with your approved seeds as anchors; a new "
      "run, and a summary of what changed"),
    S("learn", "&Learn from my labels…", menu="Scoring", group="Scoring", separator=True,
      tip="Train a quality model on your labels and label every image with it (a new run "
      "with a Learned column); shows the flywheel's history and the Review next queue"),
    S("review_next", "Review &next (learned vs label)", ("Ctrl+J",), menu="Scoring",
      group="Scoring", tip="The next image where the learned score and the label disagree "
      "most, or the model is least sure"),
    S("escape", "Cancel the running job, else clear the score range", ("Esc",),
      group="Scoring"),
    # ---- Help
    S("shortcuts", "Keyboard shortcuts", ("?", "F1"), menu="Help", group="Help"),
    S("score_guide", "What the scores &mean", ("Shift+F1",), menu="Help", group="Help",
      tip="SDD, CR, iq, Quality and every flag, a paragraph each"),
    S("about", "&About FIQA Curator", menu="Help", group="Help", separator=True),
)

WIDGET_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Arrow keys", "Move between images (gallery) or clusters (list)", "Move around"),
    ("Home / End, PgUp / PgDn", "First / last image, a page up / down", "Move around"),
    ("Enter / Space / double-click", "Large preview of the current image", "Move around"),
    ("Shift+arrows, Shift/Ctrl+click, Ctrl+A", "Select several images: an action on them is "
     "one undo step", "Label the selected images"),
    ("Right-click a cluster", "Review state, merge", "Clusters"),
    ("Tab / Shift+Tab", "Move the focus to the next / previous panel: cluster list, gallery, "
     "inspector, seed set", "Move around"),
    ("J / K in Compare", "The next / previous identity suspect or near-duplicate group",
     "Views"),
    ("Click a point of the map", "Select its image (the gallery and the inspector follow)",
     "Views"),
)

GROUP_ORDER = ("Label the selected images", "Move around", "Clusters", "Undo", "Views", "View",
               "Scoring", "Project", "Help")


def by_name() -> dict[str, Shortcut]:
    return {s.name: s for s in SHORTCUTS}


def make_action(parent, spec: Shortcut, slot: Callable) -> QAction:
    """A QAction for `spec` with its keys and scope; not yet added to any menu or widget."""
    a = QAction(spec.text, parent)
    if spec.keys:
        a.setShortcuts([QKeySequence(k) for k in spec.keys])
        # gallery keys too: the window (and the preview window) they are added to; text fields
        # claim their printable keys first (QLineEdit accepts the ShortcutOverride)
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    tip = spec.tip or spec.text.replace("&", "").rstrip("…")
    a.setStatusTip(tip)
    a.setToolTip(tip + (f" ({', '.join(spec.keys)})" if spec.keys else ""))
    a.triggered.connect(lambda _checked=False: slot())
    return a


def key_text(keys) -> str:
    """Keys as a person reads them ('1 / H')."""
    return " / ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k
                      for k in keys)
