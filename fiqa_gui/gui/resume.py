"""Where the curator was in a project — cluster, image, filters, ranking, grouping and the run
shown — captured from the window and put back when the project is opened again (kept in the
application's QSettings, one entry per project folder).

Images and clusters are remembered by their database ids (stable across runs and reloads);
anything that no longer exists is skipped, never an error."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QApplication

FIELDS = ("cluster_db", "image", "cluster_text", "cluster_flag", "cluster_state", "tier_filter",
          "correction_filter", "flag_filter", "rank_by", "descending", "run_id", "grouped",
          "level")


def capture(w) -> dict:
    """The window's place in its open project (empty without one)."""
    rv = w.review
    if rv is None:
        return {}
    g, c = w.gallery, w.clusters
    level = w.subclusters.level()
    return {
        "cluster_db": w.curation.current_cluster_db_id(),
        "image": g.current_id(),
        "cluster_text": c.filter_edit.text(),
        "cluster_flag": c.proxy.flag,
        "cluster_state": c.proxy.state,
        "tier_filter": g.tier_filter,
        "correction_filter": g.correction_filter,
        "flag_filter": g.flag_filter,
        "rank_by": g.by,
        "descending": bool(g.descending),
        "run_id": rv.run.id if rv.run is not None else None,
        "grouped": bool(w.subclusters.panel.group_check.isChecked()),
        "level": level,
    }


def encode(state: dict) -> str:
    return json.dumps({k: state[k] for k in FIELDS if k in state})


def decode(text) -> dict:
    try:
        value = json.loads(str(text)) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def apply(w, state: dict) -> bool:
    """Put the window back where `state` says (after the project is shown). True when the
    remembered cluster was found."""
    rv = w.review
    if rv is None or not state:
        return False
    g, c = w.gallery, w.clusters
    if isinstance(state.get("cluster_text"), str):
        c.filter_edit.setText(state["cluster_text"])
    for key, setter in (("cluster_flag", c.set_flag_filter),
                        ("cluster_state", c.set_state_filter)):
        if isinstance(state.get(key), str):
            setter(state[key])
    if state.get("rank_by") in rv.rankable:
        g.set_rank(state["rank_by"], bool(state.get("descending", True)))
    panel = w.subclusters.panel
    level = state.get("level")
    if level is not None:
        k = panel.level_combo.findData(level)
        if k >= 0:
            panel.level_combo.setCurrentIndex(k)
    if panel.group_check.isEnabled() and "grouped" in state:
        panel.group_check.setChecked(bool(state["grouped"]))
    found = False
    db = state.get("cluster_db")
    if isinstance(db, int) and db >= 0:
        index = rv.cluster_index_of(db)
        if index >= 0 and c.select_cluster(index):
            found = True
    g.set_filters(tier=state.get("tier_filter"), correction=state.get("correction_filter"),
                  flag=state.get("flag_filter"))
    image = state.get("image")
    if found and isinstance(image, int) and 0 <= image < rv.n_images:
        g.select_image(image)
    QApplication.processEvents()
    return found
