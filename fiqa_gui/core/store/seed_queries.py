"""Which images the curator approved as seeds, read from the store: the anchors of the anchored
re-scoring (labels) and of the seed dashboard (curation), so it sits below both."""

from __future__ import annotations


def approved_seeds(project, *, only_approved_sets: bool = False) -> dict[int, list[int]]:
    """cluster id -> approved seed image ids (anchors for the anchored re-scoring).

    Images marked wrong identity since their approval are left out. `only_approved_sets` keeps
    only clusters whose whole seed set was approved.
    """
    sql = ("SELECT i.cluster_id, i.id FROM annotations a JOIN images i ON i.id = a.image_id "
           "WHERE a.seed_state = 'approved' AND a.wrong_identity = 0")
    if only_approved_sets:
        sql += (" AND i.cluster_id IN (SELECT cluster_id FROM seed_sets "
                "WHERE state = 'approved')")
    out: dict[int, list[int]] = {}
    for cid, iid in project.conn.execute(sql + " ORDER BY i.cluster_id, i.id"):
        out.setdefault(cid, []).append(iid)
    return out
