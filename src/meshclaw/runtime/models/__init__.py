"""Model providers: bundled local model, OpenAI-compatible, Anthropic, fallback chains, scripted."""
