"""Evaluating label sources on the curator's own data: comparison pairs, error-versus-reject
curves (FNMR at a fixed FMR as the lowest-quality pairs are rejected) with their area and
bootstrap intervals, the label sources compared (score columns, the curated label, a random
baseline), and the files `fiqa-gui erc` writes. The protocol is in `erc.py`."""
