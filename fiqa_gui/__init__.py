"""FIQA Curator: review, correct and export face-image quality labels (SDD-FIQA, CR-FIQA)."""

__version__ = "0.1.0"
