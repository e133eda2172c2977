"""Runtime: the agent loop, durable runs, models. Builds on domain and store."""
