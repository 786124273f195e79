"""The audit log in a curator's words: one image's history, timestamps in local time."""

from __future__ import annotations


def image_history(project, image_id: int, limit: int = 50) -> list[tuple[str, str]]:
    """The audit trail of one image, newest first: (time, what happened in words)."""
    needle = str(int(image_id))
    rows = project.conn.execute(
        "SELECT a.at, a.action, a.before_json, a.after_json FROM audit_log a, "
        "json_each(a.image_ids) j WHERE instr(a.image_ids, ?) > 0 AND j.value = ? "
        "ORDER BY a.id DESC LIMIT ?", (needle, int(image_id), int(limit))).fetchall()
    names = None
    out = []
    for at, action, before, after in rows:
        if action.endswith(("move_images", "merge_clusters")) and names is None:
            names = dict(project.conn.execute("SELECT id, name FROM clusters"))
        out.append((at, describe_audit(action, _json(before), _json(after), needle,
                                       names or {})))
    return out


def local_time(at: str, seconds: bool = True) -> str:
    """A store timestamp (UTC, ISO 8601 with 'Z') in the machine's local time, for people."""
    from datetime import datetime

    try:
        dt = datetime.fromisoformat(str(at).replace("Z", "+00:00")).astimezone()
    except ValueError:
        return str(at)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _json(text):
    import json

    return json.loads(text) if text else None


def _value(field_name: str, v) -> str:
    if v is None or (field_name == "wrong_identity" and not v):
        return "—" if field_name != "wrong_identity" else "no"
    if field_name == "wrong_identity":
        return "yes"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def describe_audit(action: str, before, after, image_key: str, names: dict) -> str:
    """One audit-log row in a curator's words, as it concerns the image `image_key`."""
    undo = action.startswith("undo:")
    base = action[5:] if undo else action
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if base.startswith("set_"):
        field_name = base[4:]
        title = field_name.replace("_", " ")
        if undo:  # revert logs (after-of-apply, previous values)
            old, new = before.get(field_name), after.get(image_key)
            return f"undo: {title} {_value(field_name, old)} → {_value(field_name, new)}"
        old, new = before.get(image_key), after.get(field_name)
        return f"{title} {_value(field_name, old)} → {_value(field_name, new)}"
    if base == "move_images":
        if undo:
            back = after.get("cluster_ids", {}).get(image_key)
            return f"undo: moved back to {names.get(back, f'cluster #{back}')}"
        return f"moved to cluster {after.get('cluster', '?')}" + (
            " (new)" if after.get("created") else "")
    if base == "merge_clusters":
        src = before.get("source") or ["?", "?"]
        into = names.get(after.get("into"), f"#{after.get('into')}")
        return (f"undo: merge of {src[1]} undone" if undo
                else f"its cluster {src[1]} was merged into {into}")
    return action.replace("_", " ")
