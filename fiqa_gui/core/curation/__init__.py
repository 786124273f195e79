"""The curator's actions as undoable commands (apply / revert, one transaction each, audited):
annotations, review state, moving and merging clusters, and the seed workflow."""
