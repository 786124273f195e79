"""Turning raw scores into the labels a curator sees: model-free cues, the anchored `quality`,
flags (diagnostics), per-cluster rankings, and scoring a whole project."""
