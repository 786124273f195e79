"""The New project dialog's model choice: dlib or the user's model, run as the window's
background job with progress and Cancel; a cancelled run resumes; the window opens the crops."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fiqa_gui.core.store import Project
from fiqa_gui.gui.jobs import JobRunner
from fiqa_gui.gui.new_project_dialog import (
    SOURCE_DLIB,
    SOURCE_FILE,
    SOURCE_MODEL,
    NewProjectDialog,
)
from tests.face_photos import PEOPLE, photo_folder
from tests.test_embed_models import SIZE, TinyFaceNet, export


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_folder(tmp_path_factory.mktemp("gui") / "photos", variants=("orig", "flip"))


def _run(qtbot, runner: JobRunner, fn) -> tuple[str, object]:
    outcome: dict = {}
    with qtbot.waitSignal(runner.finished, timeout=60000) as sig:
        runner.run("Creating the project", fn, lambda r: outcome.setdefault("result", r),
                   on_failed=lambda e: outcome.setdefault("error", e) is not None)
    qtbot.waitUntil(lambda: not runner.busy)
    return sig.args[1], outcome


def test_dialog_offers_the_model_choice_and_validates(qtbot, photos, tmp_path):
    d = NewProjectDialog("images")
    qtbot.addWidget(d)
    d.show()
    assert not d.model_box.isVisible()            # an embeddings file needs no model
    d.source.setText(str(photos))
    d.folder.setText(str(tmp_path / "p"))
    d.set_choice(SOURCE_MODEL)
    assert d.model_box.isVisible() and d.model_file_row.isEnabled()
    d._accept()
    assert "Choose the model file" in d.error.text() and d.result() == 0
    d.model_file.setText(str(tmp_path / "net.pt"))
    d.mean.setText("0.5,0.5")
    d._accept()
    assert "--mean takes one value or three" in d.error.text()
    d.mean.setText("0.485,0.456,0.406")
    d.channels.setCurrentText("bgr")
    d.flip.setCurrentText("sum")
    d.align.setChecked(True)
    opts = d.values()["photo_options"]
    assert opts.preprocessing.channels == "bgr" and opts.preprocessing.flip == "sum"
    assert opts.preprocessing.align and opts.preprocessing.mean == (0.485, 0.456, 0.406)
    d.set_choice(SOURCE_FILE)
    assert "photo_options" not in d.values() and not d.model_box.isVisible()
    d.set_choice(SOURCE_MODEL)
    d.resize(760, d.sizeHint().height())
    d.grab().save(str(tmp_path / "new_project_dialog.png"))


def test_user_model_job_cancel_then_resume(qtbot, photos, tmp_path):
    model = export(TinyFaceNet(), tmp_path / "net.pt", "pt")
    d = NewProjectDialog("images")
    qtbot.addWidget(d)
    d.source.setText(str(photos))
    d.folder.setText(str(tmp_path / "p"))
    d.set_choice(SOURCE_MODEL)
    d.model_file.setText(str(model))
    d.input_size.setValue(SIZE)
    d.batch.setValue(1)
    runner = JobRunner()
    runner.show_dialogs = False
    seen = []
    runner.progressed.connect(lambda done, total, stage: seen.append((done, total, stage)))
    job = d.job()

    def cancelled_after_three(progress, cancel):   # the user presses Cancel after 3 photos
        def hook(done, total, stage):
            progress(done, total, stage)
            if stage == "embedding photos" and done >= 3:
                # as a user would: Cancel once the window shows the stage (the runner drops
                # progress that arrives after Cancel, so a busy GUI thread must catch up first)
                deadline = time.monotonic() + 10
                while not any(s == stage for _, _, s in seen) and time.monotonic() < deadline:
                    time.sleep(0.01)
                cancel.cancel()
        return job(hook, cancel)

    outcome, _ = _run(qtbot, runner, cancelled_after_three)
    assert outcome == "cancelled"
    assert any(stage == "embedding photos" for _, _, stage in seen)   # progress reached the GUI
    assert not (tmp_path / "p").exists()
    staged = {"/".join(p.parts[-3:]): p.stat().st_mtime_ns
              for p in tmp_path.glob(".p.photos-*/crops/*/*.png")}
    assert len(staged) == 3
    outcome, result = _run(qtbot, runner, d.job())
    assert outcome == "done" and result["result"] == tmp_path / "p"
    with Project.open(tmp_path / "p", read_only=True) as p:
        assert p.image_count() == 2 * len(PEOPLE)
        ds = p.dataset()
        kept = {ds.paths[i]: ds.absolute_path(i).stat().st_mtime_ns
                for i in range(len(ds)) if ds.paths[i] in staged}
    assert len(kept) == 3 and all(kept[k] == staged[k] for k in staged)   # reused, not redone


def test_dlib_choice_from_the_window_opens_the_crops(qtbot, photos, tmp_path, window_factory,
                                                     monkeypatch):
    pytest.importorskip("dlib")
    import fiqa_gui.gui.main_window as mw

    class Filled(NewProjectDialog):
        def exec(self):
            self.source.setText(str(photos))
            self.folder.setText(str(tmp_path / "p"))
            self.set_choice(SOURCE_DLIB)
            assert self.embeddings_from.model().item(1).isEnabled()
            return NewProjectDialog.DialogCode.Accepted

    monkeypatch.setattr(mw, "NewProjectDialog", Filled)
    w = window_factory()
    with qtbot.waitSignal(w.project_opened, timeout=60000):
        w.new_project("images")
    assert w.review is not None and w.review.folder == (tmp_path / "p").absolute()
    with Project.open(tmp_path / "p", read_only=True) as p:
        paths = p.dataset().paths
        emb = np.asarray(p.embeddings())
    assert all(x.startswith("crops/") for x in paths) and emb.shape == (len(paths), 128)
