"""The flagged queue: F goes to the next flagged image of the cluster (in the gallery's order),
then to the next flagged cluster of the list (in its order, wrapping around once).

Which flag counts: the gallery's flag filter when it names one flag, else the cluster list's,
else any flag.
"""

from __future__ import annotations

from fiqa_gui.core.review.codes import CLUSTER_FLAGS
from fiqa_gui.gui.cluster_table import ANY as CLUSTER_ANY
from fiqa_gui.gui.cluster_table import FLAGGED as CLUSTER_FLAGGED
from fiqa_gui.gui.gallery_view import ANY, FLAGGED


def flag_of_interest(gallery, clusters) -> str | None:
    """The flag F looks for (None: any flag)."""
    if gallery.flag_filter not in (ANY, FLAGGED):
        return gallery.flag_filter
    if clusters.proxy.flag not in (CLUSTER_ANY, CLUSTER_FLAGGED):
        return clusters.proxy.flag
    return None


def cluster_has(review, c: int, flag: str | None) -> bool:
    s = review.summaries
    if flag is None:
        return bool(s.flagged[c]) or any(f in CLUSTER_FLAGS for f in s.flags[c])
    if flag == "score_shift":
        return "score_shift" in s.flags[c] or "cluster_score_shift" in s.flags[c]
    return flag in s.flags[c]


def image_flag(flag: str | None) -> str | None:
    """The image-level flag to look for (cluster-only flags match no single image)."""
    if flag == "cluster_score_shift":
        return "score_shift"
    return None if flag in CLUSTER_FLAGS else flag


def next_flagged(window) -> bool:
    """Select the next flagged item; False (and a status message) when there is none."""
    rv, gallery, clusters = window.review, window.gallery, window.clusters
    if rv is None or rv.scores is None:
        return False
    flag = flag_of_interest(gallery, clusters)
    want = image_flag(flag)
    only_cluster_flag = flag is not None and want is None
    # 1. later in this cluster's gallery
    ids = gallery.shown_ids()
    if len(ids) and not only_cluster_flag:
        row = max(-1, gallery.view.currentIndex().row())
        later = ids[row + 1:]
        hits = later[rv.image_flag_mask(later, want)] if len(later) else later
        if len(hits):
            return gallery.select_image(int(hits[0]))
    # 2. the next flagged cluster in the list's order (wrapping around once)
    order = clusters.shown_clusters()
    c = gallery.cluster_id
    start = order.index(c) + 1 if c in order else 0
    for k in range(len(order)):
        nxt = order[(start + k) % len(order)]
        if nxt == c or not cluster_has(rv, nxt, flag):
            continue
        clusters.select_cluster(nxt)
        shown = gallery.shown_ids()
        if not only_cluster_flag and len(shown):
            hits = shown[rv.image_flag_mask(shown, want)]
            if len(hits):
                gallery.select_image(int(hits[0]))
        return True
    # 3. earlier in this cluster (the queue wrapped around to where it started)
    if len(ids) and not only_cluster_flag:
        row = max(0, gallery.view.currentIndex().row())
        earlier = ids[:row]
        hits = earlier[rv.image_flag_mask(earlier, want)] if len(earlier) else earlier
        if len(hits):
            return gallery.select_image(int(hits[0]))
    window.status.showMessage("No other flagged item" + (
        f" ({flag.replace('_', ' ')})" if flag else "") + ".", 4000)
    return False
