"""What the window remembers between sessions (QSettings): geometry, splitters, recent projects,
the last project, theme and thumbnail size.

`FIQA_CURATOR_SETTINGS=/path/file.ini` redirects everything to one ini file (tests, portable use).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "fiqa-curator"
APPLICATION = "FIQA Curator"
MAX_RECENT = 10


class AppSettings:
    """Typed access to the application's QSettings."""

    def __init__(self, settings: QSettings | None = None) -> None:
        if settings is None:
            path = os.environ.get("FIQA_CURATOR_SETTINGS")
            settings = (QSettings(path, QSettings.Format.IniFormat) if path
                        else QSettings(ORGANIZATION, APPLICATION))
        self.qsettings = settings

    @classmethod
    def at(cls, path: str | Path) -> AppSettings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    # -- raw bytes (geometry, splitter and header states)
    def state(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(f"state/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_state(self, key: str, value: QByteArray) -> None:
        self.qsettings.setValue(f"state/{key}", value)

    # -- projects
    def recent_projects(self) -> list[str]:
        value = self.qsettings.value("projects/recent", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, folder: str | Path) -> None:
        folder = str(Path(folder).absolute())
        recent = [folder] + [p for p in self.recent_projects() if p != folder]
        self.qsettings.setValue("projects/recent", recent[:MAX_RECENT])
        self.qsettings.setValue("projects/last", folder)

    def remove_recent(self, folder: str | Path) -> None:
        folder = str(Path(folder).absolute())
        self.qsettings.setValue("projects/recent",
                                [p for p in self.recent_projects() if p != folder])

    def last_project(self) -> str | None:
        value = self.qsettings.value("projects/last")
        return str(value) if value else None

    def clear_last_project(self) -> None:
        self.qsettings.remove("projects/last")

    # -- where the curator was in each project (resume.py)
    def _resume_key(self, folder: str | Path) -> str:
        import hashlib

        digest = hashlib.sha1(str(Path(folder).absolute()).encode("utf-8")).hexdigest()[:16]
        return f"resume/{digest}"

    def project_place(self, folder: str | Path) -> str | None:
        value = self.qsettings.value(self._resume_key(folder))
        return str(value) if value else None

    def set_project_place(self, folder: str | Path, text: str) -> None:
        self.qsettings.setValue(self._resume_key(folder), text)

    # -- preferences
    def theme(self) -> str:
        return str(self.qsettings.value("view/theme", "system"))

    def set_theme(self, theme: str) -> None:
        self.qsettings.setValue("view/theme", theme)

    def thumbnail_size(self) -> int:
        try:
            return int(self.qsettings.value("view/thumbnail_size", 112))
        except (TypeError, ValueError):
            return 112

    def set_thumbnail_size(self, px: int) -> None:
        self.qsettings.setValue("view/thumbnail_size", int(px))

    def sync(self) -> None:
        self.qsettings.sync()
