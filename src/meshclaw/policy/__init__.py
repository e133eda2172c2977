"""Policy: the one guard every tool call passes, and what it reasons with (grants, provenance, limits).

Sits just above ``domain``; imports nothing from store, runtime, connectors or surfaces.
"""
