"""The data flywheel: learn quality from the curator's labels, label the clusters nobody has
looked at, and say which images to look at next."""
