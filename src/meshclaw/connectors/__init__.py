"""Connectors: each a toolset whose tools declare their effects and label what they return."""
