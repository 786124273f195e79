"""Building seed sets: neighbour search, multi-threshold clustering into sub-clusters, and
stratified sampling (tier × sub-cluster × attributes)."""
