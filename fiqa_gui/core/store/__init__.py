"""The project file: a folder with `project.sqlite`, the embeddings (.npy) and a thumbnail cache."""

from fiqa_gui.core.store.project import Project, ProjectError, RunInfo
from fiqa_gui.core.store.schema import SCHEMA_VERSION

__all__ = ["Project", "ProjectError", "RunInfo", "SCHEMA_VERSION"]
