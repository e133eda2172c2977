"""Surfaces: how people and other programs reach MeshClaw (CLI now; HTTP API and web UI later)."""
