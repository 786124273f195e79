"""The curator's actions as the window offers them: which images or clusters an action targets
(the gallery's selection, the current cluster), the core command it becomes, and how the panels
refresh from the store afterwards — only what the action touched.

Every action goes through `CurationController.execute`, so it is one transaction and one undo
step however many images it covers.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from fiqa_gui.core.curation import commands as cur
from fiqa_gui.core.curation import seeds
from fiqa_gui.core.review.codes import SEED_CODES, TIER_CODES, TIER_NONE
from fiqa_gui.gui.cluster_picker import ClusterPickerDialog
from fiqa_gui.gui.curation_controller import CurationController


def seed_command(project, ids, state: str | None):
    """The seed-set command that gives `ids` the seed state `state`."""
    if state == "approved":
        return seeds.approve_images(project, ids)
    if state == "rejected":
        return seeds.reject_images(project, ids)
    if state is None:
        return seeds.clear_seeds(project, ids)
    return cur.set_seed_state(project, ids, state)  # 'proposed' set by hand


class CurationActions(QObject):
    """Bound to the window's panels; the window's menus and keys call these methods."""

    def __init__(self, window, controller: CurationController) -> None:
        super().__init__(window)
        self.w = window
        self.controller = controller
        self.picker: ClusterPickerDialog | None = None
        controller.changed.connect(self.on_changed)

    # ----------------------------------------------------------------- targets
    @property
    def review(self):
        return self.w.review

    def targets(self) -> np.ndarray:
        """The selected images, else the current one (empty when there is none)."""
        ids = self.w.gallery.selected_ids()
        if not len(ids) and self.w.gallery.current_id() >= 0:
            ids = np.array([self.w.gallery.current_id()], dtype=np.int64)
        return np.asarray(ids, dtype=np.int64)

    def _status(self, text: str) -> None:
        self.w.status.showMessage(text, 4000)

    def _run_on_targets(self, field: str, value, build) -> bool:
        """Apply `build(project, ids)` to the targets unless every one already has `value`."""
        if self.review is None:
            return False
        ids = self.targets()
        if not len(ids):
            self._status("Select one or more images first.")
            return False
        if self._all_have(ids, field, value):
            self._status("Nothing to change: the selected images already have that value.")
            return False
        return self.controller.execute(lambda p: build(p, ids.tolist())) is not None

    def _all_have(self, ids: np.ndarray, field: str, value) -> bool:
        a = self.review.annotations
        if field == "tier":
            return bool((a.tier[ids] == TIER_CODES.get(value, TIER_NONE)).all())
        if field == "seed_state":
            return bool((a.seed[ids] == SEED_CODES.get(value, 0)).all())
        if field == "wrong_identity":
            return bool((a.wrong[ids] == bool(value)).all())
        if field == "corrected_score":
            cur_values = a.corrected[ids]
            if value is None:
                return bool(np.isnan(cur_values).all())
            return bool(np.allclose(cur_values, float(value), equal_nan=False))
        if field == "note":
            return all(a.notes.get(int(i)) == (value or None) for i in ids)
        return False

    # ----------------------------------------------------------------- image actions
    def set_tier(self, tier: str | None) -> bool:
        return self._run_on_targets("tier", tier, lambda p, ids: cur.set_tier(p, ids, tier))

    def set_seed(self, state: str | None) -> bool:
        """Seed decisions go through the seed-set commands, so a change to an approved seed
        set reopens it (`core.seeds`)."""
        return self._run_on_targets("seed_state", state, lambda p, ids: seed_command(p, ids, state))

    def toggle_wrong(self) -> bool:
        if self.review is None:
            return False
        ids = self.targets()
        wrong = not bool(len(ids)) or not bool(self.review.annotations.wrong[ids].all())
        return self._run_on_targets("wrong_identity", wrong,
                                    lambda p, ids: cur.mark_wrong_identity(p, ids, wrong))

    def edit(self, field: str, value) -> bool:
        """An edit from the inspector's editor, for the selected images (or the current one)."""
        build = {
            "tier": lambda p, ids: cur.set_tier(p, ids, value),
            "seed_state": lambda p, ids: seed_command(p, ids, value),
            "wrong_identity": lambda p, ids: cur.mark_wrong_identity(p, ids, bool(value)),
            "corrected_score": lambda p, ids: cur.set_corrected_score(p, ids, value),
            "note": lambda p, ids: cur.set_note(p, ids, value),
        }[field]
        done = self._run_on_targets(field, value, build)
        if not done:  # show the store's value again (the edit was refused or a no-op)
            self.w.inspector.refresh_annotations()
        return done

    # ----------------------------------------------------------------- clusters
    def current_cluster_db_id(self) -> int:
        c = self.w.gallery.cluster_id
        return int(self.review.cluster_db_ids[c]) if self.review is not None and c >= 0 else -1

    def set_review_state(self, state: str) -> bool:
        if self.review is None or self.w.gallery.cluster_id < 0:
            return False
        c = self.w.gallery.cluster_id
        if self.review.summaries.review_state[c] == state:
            self._status(f"The cluster is already '{state.replace('_', ' ')}'.")
            return False
        db_id = self.current_cluster_db_id()
        return self.controller.execute(
            lambda p: cur.SetReviewState(p, [db_id], state)) is not None

    def done_and_next(self) -> None:
        """Mark the current cluster done and go to the next one in the list's order."""
        if self.review is None or self.w.gallery.cluster_id < 0:
            return
        c = self.w.gallery.cluster_id
        shown = self.w.clusters.shown_clusters()
        pos = shown.index(c) if c in shown else -1
        nxt = shown[pos + 1] if 0 <= pos < len(shown) - 1 else None
        if self.review.summaries.review_state[c] != "done":
            if not self.set_review_state("done"):
                return
        if nxt is not None:
            self.w.clusters.select_cluster(nxt)
        else:
            self._status("That was the last cluster in the list.")

    def ask_move(self) -> ClusterPickerDialog | None:
        """Ask where to move the selected images (non-blocking; the move runs on OK)."""
        if self.review is None or not self.controller.can_edit:
            self._status(self.controller.why_not())
            return None
        ids = self.targets()
        if not len(ids):
            self._status("Select the images to move first.")
            return None
        names = self._cluster_names()
        current = self.review.summaries.names[self.w.gallery.cluster_id]
        dialog = ClusterPickerDialog(
            "Move images", f"Move {len(ids)} image(s) from <b>{current}</b> to the cluster:",
            names, allow_new=True, exclude=current, parent=self.w)
        dialog.accepted.connect(lambda: self.move(ids, dialog.value()))
        self._open(dialog)
        return dialog

    def move(self, ids, target: str) -> bool:
        return self.controller.execute(
            lambda p: cur.MoveImages(p, list(map(int, ids)), target)) is not None

    def ask_merge(self) -> ClusterPickerDialog | None:
        """Ask which cluster the current one merges into (non-blocking)."""
        if self.review is None or self.w.gallery.cluster_id < 0:
            return None
        if not self.controller.can_edit:
            self._status(self.controller.why_not())
            return None
        source = self.review.summaries.names[self.w.gallery.cluster_id]
        dialog = ClusterPickerDialog(
            "Merge clusters", f"Merge every image of <b>{source}</b> into the cluster (one "
            "undo step; the emptied cluster is removed):", self._cluster_names(),
            allow_new=False, exclude=source, parent=self.w)
        dialog.accepted.connect(lambda: self.merge(source, dialog.value()))
        self._open(dialog)
        return dialog

    def merge(self, source: str, target: str) -> bool:
        ids = {n: int(c) for n, c in zip(self.review.summaries.names,
                                         self.review.cluster_db_ids, strict=True)}
        if source not in ids or target not in ids:
            self._status("No cluster of that name.")
            return False
        return self.controller.execute(
            lambda p: cur.MergeClusters(p, ids[source], ids[target])) is not None

    def _cluster_names(self) -> list[str]:
        return sorted(self.review.summaries.names, key=str.casefold)

    def _open(self, dialog: ClusterPickerDialog) -> None:
        if self.picker is not None:
            self.picker.close()
        self.picker = dialog
        dialog.open()

    # ----------------------------------------------------------------- refresh
    def on_changed(self, cmd) -> None:
        """A command was applied or reverted: re-read what it touched from the store."""
        rv = self.review
        if rv is None:
            return
        if isinstance(cmd, cur.SetAnnotation):
            rv.refresh_annotations(cmd.ids)
            self.w.gallery.refresh_images(cmd.ids)
            if self.w.inspector.image_id in set(cmd.ids):
                self.w.inspector.refresh_annotations()
        elif isinstance(cmd, cur.SetReviewState):
            rv.refresh_review_states()
            self.w.clusters.refresh_states()
            self.w.inspector.refresh_annotations()
        elif isinstance(cmd, (cur.MoveImages, cur.MergeClusters)):
            self._clusters_changed(cmd)

    def _clusters_changed(self, cmd) -> None:
        """Membership changed: relabel, refill the list, and stay in the cluster shown when it
        still exists (else go where the images went)."""
        rv = self.review
        shown_db = self.current_cluster_db_id()
        current_image = self.w.gallery.current_id()
        rv.reload_clusters()
        if isinstance(cmd, cur.MoveImages):
            fallback = cmd.target_id if cmd.applied else cmd.previous[0]
        else:
            fallback = cmd.target_id if cmd.applied else cmd.source[0]
        c = rv.cluster_index_of(shown_db)
        if c < 0:
            c = rv.cluster_index_of(fallback)
        self.w.clusters.set_summaries(rv.summaries, rv.cluster_explanations, keep_filters=True)
        self.w.status.set_counts(self.w.counts_text())
        if c < 0 or not self.w.clusters.select_cluster(c):
            self.w.clusters.step(0)
        if current_image >= 0:
            self.w.gallery.select_image(current_image)
