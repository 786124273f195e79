"""What leaves the program: the score table of `score --out`, and the seed sets, labels, tree
and audit log of `export`, all written atomically."""
