"""Scoring → Evaluate labels… on the sample project: the curves and table the curator sees,
the same numbers as `fiqa-gui erc`, Cancel, bad input as a dialog, and a screenshot."""

from __future__ import annotations

import json

import numpy as np

from fiqa_gui.cli import main

SHOWN = ("sdd", "cr", "quality", "curated")


def open_panel(qtbot, window_factory, sample_project):
    from fiqa_gui.gui.erc_panel import ErcDialog

    w = window_factory(sample_project)
    action = next(a for a in w.menus["Scoring"].actions() if "Evaluate labels" in a.text())
    action.trigger()  # opens the dialog and starts the evaluation at once
    dialog = w.erc_dialog
    assert isinstance(dialog, ErcDialog) and dialog.isVisible()
    panel = dialog.panel
    return w, dialog, panel


def test_panel_shows_curves_and_matches_the_cli(qtbot, window_factory, sample_project,
                                                tmp_path):
    w, dialog, panel = open_panel(qtbot, window_factory, sample_project)
    assert panel.jobs.busy or panel.result is not None
    qtbot.waitUntil(lambda: panel.result is not None and not panel.jobs.busy, timeout=60000)
    result = panel.result
    assert panel.outcome == "done"
    for source in SHOWN:
        item = panel.curve_items[(source, 1e-3)]
        x, y = item.getData()
        assert len(x) == 20 and np.array_equal(y, result.curve(source, 1e-3).fnmr,
                                               equal_nan=True)
    table = {panel.table.item(r, 0).text(): panel.table.item(r, 2).text()
             for r in range(panel.table.rowCount())}
    assert set(SHOWN) <= set(table)
    assert f"{result.genuine_pairs:,}" in panel.summary.text()
    assert f"{result.impostor_pairs:,}" in panel.summary.text()
    assert all(c.auc_interval is not None for c in result.curves)  # bootstrap by default
    # the CLI with the panel's settings writes the same numbers
    out = tmp_path / "cli"
    opts = panel.options
    assert main(["erc", str(sample_project), "--columns", ",".join(result.sources),
                 "--fmr", "1e-3", "--bootstrap", str(opts["bootstrap"]),
                 "--seed", str(opts["seed"]), "--out", str(out), "-q"]) == 0
    records = json.loads((out / "auc.json").read_text(encoding="utf-8"))
    assert [r["source"] for r in records] == result.sources
    for rec in records:
        c = result.curve(rec["source"], rec["fmr"])
        assert rec["auc"] == c.auc and [rec["auc_low"], rec["auc_high"]] == list(c.auc_interval)
        assert table[rec["source"]] == f"{rec['auc']:.4f}"
    # Save files… writes the CLI's files from the panel's result
    saved = panel.save(tmp_path / "gui")
    assert json.loads((saved / "auc.json").read_text(encoding="utf-8")) == records
    assert (saved / "curves.csv").read_bytes() == (out / "curves.csv").read_bytes()
    # screenshot of what the curator sees
    dialog.resize(1100, 760)
    qtbot.wait(50)
    shot = tmp_path / "erc_panel.png"
    assert dialog.grab().save(str(shot))
    assert shot.stat().st_size > 10000
    dialog.close()
    assert panel.jobs.pool.activeThreadCount() == 0


def test_cancel_keeps_the_last_result(qtbot, window_factory, sample_project):
    w, dialog, panel = open_panel(qtbot, window_factory, sample_project)
    qtbot.waitUntil(lambda: panel.result is not None and not panel.jobs.busy, timeout=60000)
    first = panel.result
    panel.bootstrap.setValue(100000)  # long enough to cancel in the middle
    assert panel.start()
    assert panel.cancel_button.isEnabled() and not panel.evaluate_button.isEnabled()
    qtbot.waitUntil(lambda: "bootstrap" in panel.stage.text(), timeout=30000)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.outcome == "cancelled", timeout=30000)
    assert panel.result is first and "Cancelled" in panel.stage.text()
    assert panel.evaluate_button.isEnabled()
    dialog.close()


def test_bad_input_is_a_dialog(qtbot, window_factory, sample_project):
    w, dialog, panel = open_panel(qtbot, window_factory, sample_project)
    qtbot.waitUntil(lambda: not panel.jobs.busy, timeout=60000)
    panel.fmr.setText("1e-9")
    assert panel.start()
    qtbot.waitUntil(lambda: panel.outcome == "failed", timeout=30000)
    title, text = panel.jobs.last_message
    assert "cannot be resolved" in text and "Traceback" not in text
    panel.fmr.setText("often")
    assert not panel.start()
    assert "not a list of numbers" in panel.jobs.last_message[1]
    for box in panel.checks.values():
        box.setChecked(False)
    assert not panel.start()
    dialog.close()
