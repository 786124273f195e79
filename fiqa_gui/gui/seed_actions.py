"""The seed-set workflow as the window offers it: the seed panel's buttons become core commands
(`fiqa_gui.core.curation.seeds`) run through the window's `CurationController`, so each one is one
transaction and one undo step (Ctrl+Z), exactly like a tier edit. After any change the panel,
the gallery marks and the dashboard re-read the store.

Cluster ids: the window's cluster *indices* (`gallery.cluster_id`) are mapped to the store's
cluster ids with `ReviewData.cluster_db_ids` before they reach the core.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from fiqa_gui.core.curation import seeds
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.review.answer_key import data_attribute_names
from fiqa_gui.core.review.review_data import preview_cluster_seeds
from fiqa_gui.core.seedsets.sampling import SamplingParams, latest_sampling_params, propose_seeds
from fiqa_gui.gui.dashboard import DashboardDialog, dashboard_line
from fiqa_gui.gui.jobs import LatestOnly, error_text
from fiqa_gui.gui.seed_panel import SeedPanel

PREVIEW_MAX_IMAGES = 5000  # clusters larger than this get no live preview of their strata
# The dashboard line reads every image's tier (O(dataset)): above this many images it is
# computed off the GUI thread, on a read-only connection of its own, once per change.
DASHBOARD_SYNC_MAX_IMAGES = 50_000
# A larger cluster's preview waits until its tiles are painted, so that the switch itself stays
# quick, and its farthest-point sampling runs on a worker thread (it would land mid-scroll).
PREVIEW_SYNC_MAX_IMAGES = 1000
PREVIEW_DELAY_MS = 50


def _dashboard_text(folder) -> str:
    """The dashboard line of a project, read on a read-only connection of its own (a worker
    thread's: the window's connection stays the GUI thread's)."""
    from fiqa_gui.core.store import Project

    reader = Project.reader_of(folder)
    try:
        return dashboard_line(seeds.progress_dashboard(reader))
    finally:
        reader.close()


def _preview_off_thread(rv, c: int, params):
    """A cluster's strata preview on a worker thread: the store read through a read-only
    connection of its own, the window's arrays only read."""
    from fiqa_gui.core.store import Project

    reader = Project.reader_of(rv.folder)
    try:
        return preview_cluster_seeds(rv, c, params, reader)
    finally:
        reader.close()


class SeedActions(QObject):
    """Bound to the window; refreshes its `SeedPanel` from the store."""

    def __init__(self, window, panel: SeedPanel) -> None:
        super().__init__(window)
        self.w = window
        self.panel = panel
        self.controller = window.controller
        self.dashboard_dialog: DashboardDialog | None = None
        self.last_pending_choice: str | None = None
        self._dashboard: tuple | None = None  # (review, text) while nothing changed since
        self._dashboard_pending: object | None = None  # the review a worker computes it for
        self._dashboard_worker = LatestOnly(self)
        self._preview_worker = LatestOnly(self)  # a big cluster's strata preview
        panel.propose_requested.connect(self.propose)
        panel.approve_requested.connect(self.approve_selected)
        panel.reject_requested.connect(self.reject_selected)
        panel.swap_requested.connect(self.swap)
        panel.add_requested.connect(self.add_selected)
        panel.approve_set_requested.connect(lambda: self.approve_set())
        panel.dashboard_requested.connect(self.show_dashboard)
        panel.params_changed.connect(self._on_params_changed)
        self.controller.changed.connect(self.on_changed)

    # ----------------------------------------------------------------- helpers
    @property
    def review(self):
        return self.w.review

    @property
    def project(self):
        return self.review.project if self.review is not None else None

    def cluster_db_id(self) -> int:
        return self.w.curation.current_cluster_db_id()

    def params(self) -> SamplingParams:
        return SamplingParams(quotas={**SamplingParams().quotas, **self.panel.quotas()},
                              attributes=self.panel.attributes())

    def _status(self, text: str) -> None:
        self.w.status.showMessage(text, 4000)

    def _targets(self) -> list[int]:
        return [int(i) for i in self.w.curation.targets()]

    def _error(self, title: str, err: Exception) -> None:
        self.w.jobs.show_message(title, str(err))

    # ----------------------------------------------------------------- project / cluster
    def set_review(self, review) -> None:
        self._dashboard = None
        if review is None:
            self.panel.set_attributes([])
            self.refresh()
            return
        names = data_attribute_names([r[0] for r in review.project.conn.execute(
            "SELECT name FROM attribute_names ORDER BY name")])
        params = latest_sampling_params(review.project)
        self.panel.set_quotas(params.quotas)
        self.panel.set_attributes(names, params.attributes)
        self.refresh()

    def refresh(self, *_args) -> None:
        """Re-read the current cluster's seed set and the dataset's progress."""
        p = self.panel
        p.set_editable(self.controller.can_edit and self.cluster_db_id() >= 0)
        rv = self.review
        if rv is not None and self.w.jobs.busy:
            return  # a job uses the project's connection; refreshed when it ends
        if rv is None or self.w.gallery.cluster_id < 0:
            p.title.setText("No cluster")
            p.show_strata([], "")
            p.progress.setText("")
            return
        db = self.cluster_db_id()
        name = rv.summaries.names[self.w.gallery.cluster_id]
        ids = rv.index.members(self.w.gallery.cluster_id)
        states = seeds.seed_states(self.project, ids.tolist())
        counts = {s: sum(1 for v in states.values() if v == s)
                  for s in ("proposed", "approved", "rejected")}
        row = seeds.seed_set_rows(self.project, [db]).get(db)
        set_state = row[0] if row else "none"
        label = {"approved": "<span style='color:#2e7d32'>approved</span>",
                 "open": "open", "none": "not proposed yet"}[set_state]
        p.title.setText(f"<b>Seed set of {name}</b> — {label}<br>"
                        f"{counts['proposed']} undecided · {counts['approved']} approved · "
                        f"{counts['rejected']} rejected")
        p.approve_set_button.setText("Seed set approved ✓" if set_state == "approved"
                                     else "Approve seed set")
        stored = seeds.cluster_params(self.project, db)
        clustered = self.w.subclusters.run_id is not None
        if stored.get("coverage") is not None:
            when = str(stored.get("proposed_at", ""))[:16].replace("T", " ")
            p.show_strata(stored["coverage"], f"Strata of the proposal of {when} UTC",
                          clustered=clustered, stored=True)
        elif len(ids) <= PREVIEW_SYNC_MAX_IMAGES:
            self._show_preview(rv, self.w.gallery.cluster_id, clustered)
        elif len(ids) <= PREVIEW_MAX_IMAGES:
            p.show_strata([], "<i>Preview of the strata…</i>")
            c = self.w.gallery.cluster_id
            QTimer.singleShot(PREVIEW_DELAY_MS, self,
                              lambda: self._show_preview(rv, c, clustered, later=True))
        else:
            p.show_strata([], "Nothing proposed yet; press Propose.")
        self._show_dashboard_line(rv)
        if self.dashboard_dialog is not None and self.dashboard_dialog.isVisible():
            self._fill_dashboard()

    def _show_preview(self, rv, c: int, clustered: bool, later: bool = False) -> None:
        """The strata a proposal would have with the panel's quotas (nothing stored). `later`
        (a big cluster, after its tiles are painted): read and sampled on a worker thread,
        shown if the cluster is still the one shown."""
        p = self.panel
        if later and not self._still_previewing(rv, c):
            return  # moved on (or proposed) meanwhile
        params = self.params()
        if later:
            self._preview_worker.submit(
                lambda: _preview_off_thread(rv, c, params),
                lambda prop: self._preview_ready(rv, c, clustered, prop),
                lambda err: self._preview_failed(rv, c, err))
            return
        try:
            prop = preview_cluster_seeds(rv, c, params)
        except UserInputError as err:
            p.show_strata([], f"No preview: {err}")
            return
        self._show_proposal_strata(prop, clustered)

    def _still_previewing(self, rv, c: int) -> bool:
        return (self.review is rv and self.w.gallery.cluster_id == c and not self.w.jobs.busy
                and seeds.cluster_params(self.project, int(rv.cluster_db_ids[c])).get(
                    "coverage") is None)

    def _preview_ready(self, rv, c: int, clustered: bool, prop) -> None:
        if self._still_previewing(rv, c):
            self._show_proposal_strata(prop, clustered)

    def _preview_failed(self, rv, c: int, err: BaseException) -> None:
        if not self._still_previewing(rv, c):
            return
        self.panel.show_strata([], f"No preview: {err}" if isinstance(err, UserInputError)
                               else "No preview (an internal error).")
        if not isinstance(err, UserInputError):
            self.w.jobs.show_message("Seed preview failed", error_text(err, "Previewing seeds"))

    def _show_proposal_strata(self, prop, clustered: bool) -> None:
        rows = [[k.tier, k.subcluster, list(k.attributes), k.available, k.quota, k.picked]
                for k in prop.coverage]
        self.panel.show_strata(rows, "<i>Preview with the quotas on the left — nothing "
                               "proposed yet; press Propose.</i>", clustered=clustered)

    def shutdown(self) -> None:
        for worker in (self._dashboard_worker, self._preview_worker):
            worker.forget()
            worker.wait()

    def _show_dashboard_line(self, rv) -> None:
        """The dataset's seed progress under the panel: kept while nothing changed; recomputed
        at once for a small project, in the background for a large one."""
        if self._dashboard is not None and self._dashboard[0] is rv:
            self.panel.progress.setText(self._dashboard[1])
            return
        if rv.n_images <= DASHBOARD_SYNC_MAX_IMAGES:
            self._dashboard = (rv, dashboard_line(seeds.progress_dashboard(self.project)))
            self.panel.progress.setText(self._dashboard[1])
            return
        if self._dashboard_pending is rv:
            return
        self._dashboard_pending = rv
        self.panel.progress.setText("<i>Counting the dataset's seeds…</i>")

        def shown(text: str) -> None:
            self._dashboard_pending = None
            if self.review is rv:
                self._dashboard = (rv, text)
                self.panel.progress.setText(text)

        def failed(_err) -> None:
            self._dashboard_pending = None

        self._dashboard_worker.submit(lambda: _dashboard_text(rv.folder), shown, failed)

    def _on_params_changed(self) -> None:
        """New quotas or attributes: the preview follows (a stored proposal stays shown)."""
        if self.review is None or self.w.jobs.busy or self.cluster_db_id() < 0:
            return
        if not seeds.cluster_params(self.project, self.cluster_db_id()).get("coverage"):
            self.refresh()

    def on_changed(self, cmd) -> None:
        """A command was applied or reverted: seed commands re-read their images' marks."""
        rv = self.review
        if rv is None:
            return
        self._dashboard = None  # tiers, seeds or sets may have changed
        if isinstance(cmd, seeds.SeedCommand):
            ids = cmd.image_ids()
            if ids:
                rv.refresh_annotations(ids)
                self.w.gallery.refresh_images(ids)
                if self.w.inspector.image_id in set(ids):
                    self.w.inspector.refresh_annotations()
        self.refresh()

    # ----------------------------------------------------------------- actions
    def propose(self, all_clusters: bool = False) -> bool:
        """Propose seeds for the current cluster (at once) or every cluster (a job)."""
        if self.review is None:
            return False
        if not self.controller.can_edit:
            self._status(self.controller.why_not())
            return False
        try:
            params = self.params()
        except UserInputError as err:
            self._error("Cannot propose seeds", err)
            return False
        project = self.project
        if not all_clusters:
            db = self.cluster_db_id()
            if db < 0:
                return False
            c = self.w.gallery.cluster_id
            return self.controller.execute(lambda p: seeds.ProposeSeeds(
                p, preview_cluster_seeds(self.review, c, params), [db])) is not None

        def work(progress, cancel):
            return propose_seeds(project, params=params, progress=progress, cancel=cancel)

        def done(proposal) -> None:
            self.controller.execute(lambda p: seeds.ProposeSeeds(p, proposal))

        return self.w.jobs.run("Proposing seeds for every cluster", work, done) is not None

    def approve_selected(self) -> bool:
        return self._on_targets(seeds.approve_images)

    def reject_selected(self) -> bool:
        return self._on_targets(seeds.reject_images)

    def add_selected(self) -> bool:
        return self._on_targets(seeds.add_seeds)

    def _on_targets(self, build) -> bool:
        if self.review is None:
            return False
        ids = self._targets()
        if not ids:
            self._status("Select one or more images first.")
            return False
        return self.controller.execute(lambda p: build(p, ids)) is not None

    def swap(self) -> bool:
        """Replace the current seed by the first suggestion of its stratum."""
        if self.review is None:
            return False
        out_id = self.w.gallery.current_id()
        if out_id < 0:
            self._status("Select the seed to swap first.")
            return False
        cmd = self.controller.execute(lambda p: seeds.swap_seed(p, out_id))
        if cmd is None:
            return False
        self.w.gallery.select_image(int(cmd.info["in"]))
        return True

    def undecided(self, db: int) -> int:
        rv = self.review
        c = rv.cluster_index_of(db) if rv is not None else -1
        ids = rv.index.members(c) if c >= 0 else []
        return sum(1 for s in seeds.seed_states(self.project, ids).values() if s == "proposed")

    def ask_pending(self, n: int) -> str | None:
        """'approve', 'reject' or None (cancel) for `n` undecided proposals."""
        box = QMessageBox(QMessageBox.Icon.Question, "Approve seed set",
                          f"{n} proposed seed(s) of this cluster are still undecided.\n"
                          "What should happen to them?", parent=self.w)
        approve = box.addButton("Approve them too", QMessageBox.ButtonRole.AcceptRole)
        reject = box.addButton("Reject them", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return "approve" if clicked is approve else "reject" if clicked is reject else None

    def approve_set(self, pending: str | None = None) -> bool:
        """Approve the current cluster's seed set; undecided proposals are approved or rejected
        as `pending` says, or as the curator answers."""
        if self.review is None or self.cluster_db_id() < 0:
            return False
        if not self.controller.can_edit:
            self._status(self.controller.why_not())
            return False
        db = self.cluster_db_id()
        if pending is None:
            n = self.undecided(db)
            pending = "refuse"
            if n:
                choice = self.ask_pending(n)
                self.last_pending_choice = choice
                if choice is None:
                    return False
                pending = choice
        return self.controller.execute(
            lambda p: seeds.approve_seed_set(p, [db], pending=pending)) is not None

    def _fill_dashboard(self) -> None:
        from fiqa_gui.core.learning.review_next import learning_history

        self.dashboard_dialog.set_dashboard(seeds.progress_dashboard(self.project))
        self.dashboard_dialog.set_history(learning_history(self.project))

    def show_dashboard(self) -> DashboardDialog | None:
        if self.review is None:
            return None
        if self.dashboard_dialog is None:
            self.dashboard_dialog = DashboardDialog(self.w)
        self._fill_dashboard()
        self.dashboard_dialog.show()
        self.dashboard_dialog.raise_()
        return self.dashboard_dialog
