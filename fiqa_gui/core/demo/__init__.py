"""Synthetic demo data: procedural faces with planted quality problems and a documented
generative embedding model (see `embedding_model`). Qt-free."""

from fiqa_gui.core.demo.generate import generate_demo, generate_embeddings_only

__all__ = ["generate_demo", "generate_embeddings_only"]
