"""medbrief's HTTP service: analysis, summaries, the model card and retraining."""
