"""MeshClaw: self-hosted AI agents for a whole organisation, with one policy layer around every action."""

__version__ = "0.1.0"
