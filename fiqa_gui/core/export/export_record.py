"""An export is a curator action too: one row in the project's append-only audit log saying
what was written where (kind, path, rows), so the trail shows which labels left the project."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from fiqa_gui.core.store.project import Project
from fiqa_gui.core.store.schema import transaction

ACTION = "export"


def export_summary(reports: Iterable) -> list[dict]:
    """The JSON the audit row stores: one entry per output (`ExportReport`s in)."""
    return [{"kind": r.kind, "path": str(r.path), "rows": int(r.rows),
             "skipped": int(getattr(r, "skipped", 0) or 0)} for r in reports]


def record_export(project: Project, reports: Iterable, **choices) -> bool:
    """Append the export to the audit log (one transaction). `choices` (seed selection, run)
    are stored with it. False when the project is open read-only (nothing can be written)."""
    if project.read_only:
        return False
    outputs = export_summary(reports)
    try:
        with transaction(project.conn):
            project.conn.execute(
                "INSERT INTO audit_log(action, image_ids, before_json, after_json) "
                "VALUES (?, ?, ?, ?)",
                (ACTION, json.dumps([]), json.dumps(None),
                 json.dumps({"outputs": outputs, **choices})))
    except sqlite3.OperationalError:
        return False  # the outputs exist already; a full disk must not turn them into an error
    return True
