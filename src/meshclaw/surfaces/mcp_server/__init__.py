"""MeshClaw as an MCP server: an employee's MCP client lists their agents, starts runs, reads a run's
result and steps, and lists and answers their pending approvals.

``service.py`` does each call (who is acting, the operation, the audit record, one-line errors) and
knows nothing of MCP; ``server.py`` declares the MCP tools with the ``mcp`` SDK and serves them over
streamable HTTP on 127.0.0.1 (a personal token in ``Authorization: Bearer``, checked on every
request) or over stdio (the token in ``MESHCLAW_TOKEN``, else the OS login's ``local_users`` entry).
"""
