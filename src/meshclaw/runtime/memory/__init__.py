"""Memory that learns safely: episodes of runs, nightly consolidation into reviewed entries,
bounded hybrid retrieval, and standing rules re-applied on every model request."""
