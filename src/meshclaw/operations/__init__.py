"""What a person or program does with MeshClaw, one function per act, whatever the surface.

The command line, the worker's socket (and later a web page or chat) call these functions; each
takes an ``Actor`` (a verified user id with roles), checks that actor's authority itself
(``authority.py``), writes an ``operation`` audit record naming the actor for everything that acts
(``journal.py``), and returns a typed result that the surface prints or renders. Errors are the
``meshclaw.domain.errors`` tree: ``NotAuthorized``, ``NotFound``, ``UsageError``.

Modules: ``actor`` (who is acting), ``authority`` (who may act for or read whom), ``context``
(what an operation works on), ``journal`` (the operation audit record), ``records`` (typed views
of runs and audit records), ``runs``, ``approvals``, ``control`` (kill switch, promotion), ``tools``
(pinned MCP tools), ``config`` (checking a configuration), ``audit`` (verify, show, alerts).
"""
