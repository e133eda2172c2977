"""Flagship agents: structured workflows built from guarded calls and one-item typed judgements."""
