"""Qt-free core: loading, scoring, diagnostics, clustering, sampling, store and export.

Nothing under this package may import Qt (a test enforces it), so every number the GUI shows can
also be computed headless from the command line.
"""
