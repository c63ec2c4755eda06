"""Training medbrief's paragraph classifier from labelled articles."""
