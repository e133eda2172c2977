"""The MCP tools and their transports (``mcp`` SDK 2.x ``MCPServer``).

HTTP: streamable HTTP at ``http://127.0.0.1:PORT/mcp``, bound to the loopback address only (the
SDK's DNS-rebinding protection checks Host and Origin). Every request must carry ``Authorization:
Bearer <token>``, a personal token (``meshclaw tokens create``); it is checked on every request by
``operations.tokens.authenticate`` (missing, unknown, revoked, expired → 401, audited). A session
is bound to the token that opened it (the SDK refuses another principal on the same session id).

stdio: the client starts ``meshclaw mcp-server --stdio``; it acts as the user of ``MESHCLAW_TOKEN``
when set (checked like an HTTP token, once at start), else as the user this OS login maps to in
``local_users`` (as any ``meshclaw`` command does).
"""

from __future__ import annotations

import socket
from typing import Any, Callable

import anyio
from mcp.server import MCPServer
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context as McpContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from meshclaw.domain.errors import NotAuthorized
from meshclaw.operations.actor import Actor

from .service import Caller, CallRefused, Service

HTTP, STDIO = "mcp-http", "mcp-stdio"
PATH = "/mcp"
INSTRUCTIONS = ("MeshClaw runs AI agents that act for employees. You act as the employee whose token you hold: "
                "list your agents, start a run, read its result and steps, and answer your pending approvals.")


class TokenVerifier:
    """The SDK's bearer-token hook: a personal token → an AccessToken naming its user and roles, or None (401)."""

    def __init__(self, service: Service):
        self.service = service

    async def verify_token(self, token: str) -> AccessToken | None:
        from meshclaw.operations.tokens import authenticate

        def check() -> AccessToken | None:
            ctx = self.service.context()
            try:
                actor, token_id = authenticate(ctx, token, surface=HTTP)
            except NotAuthorized:
                return None  # audited by authenticate
            return AccessToken(token=token_id, client_id=token_id, scopes=[], subject=actor.user_id,
                               claims={"roles": sorted(actor.roles)})

        return await anyio.to_thread.run_sync(check)


class AuditMissingToken:
    """ASGI wrapper: a request to the MCP endpoint without a bearer token is audited before the SDK
    answers it 401 (the SDK's verifier is only asked when there is a token to check)."""

    def __init__(self, app: Any, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("path", "").rstrip("/") == PATH:
            auth = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not auth.lower().startswith(b"bearer "):
                from meshclaw.operations.tokens import refused

                why = "no token: send `Authorization: Bearer <token>`"
                await anyio.to_thread.run_sync(lambda: refused(self.service.context(), HTTP, why))
        await self.app(scope, receive, send)


def caller_of(ctx: McpContext, fixed: Caller | None) -> Caller:
    """The caller of one tool call: the stdio server's fixed caller, or the HTTP request's verified token."""
    if fixed is not None:
        return fixed
    request = ctx.request_context.request
    user = request.scope.get("user") if request is not None else None
    token = getattr(user, "access_token", None)
    if token is None or token.subject is None:  # the SDK refuses such a request before any tool runs
        raise ToolError("not authenticated")
    roles = frozenset((token.claims or {}).get("roles") or ())
    return Caller(Actor(token.subject, roles), token.client_id, HTTP)


def build_server(service: Service, *, fixed: Caller | None = None, port: int | None = None) -> MCPServer:
    """The MCP server with MeshClaw's tools. ``fixed`` (stdio) is who every call acts as; without it
    (HTTP, ``port`` given) each request is authenticated by its bearer token."""
    auth: dict[str, Any] = {}
    if fixed is None:
        auth = {"token_verifier": TokenVerifier(service),
                "auth": AuthSettings(issuer_url=f"http://127.0.0.1:{port or 1}", resource_server_url=None)}
    mcp = MCPServer("meshclaw", instructions=INSTRUCTIONS, log_level="WARNING", **auth)
    read = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    acts = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)

    async def guarded(fn: Callable[..., Any], ctx: McpContext, *args: Any) -> dict[str, Any]:
        try:
            return await fn(caller_of(ctx, fixed), *args)
        except CallRefused as e:
            raise ToolError(str(e)) from None

    @mcp.tool(annotations=read)
    async def list_agents(ctx: McpContext) -> dict[str, Any]:
        """The agents you may run and answer for (your own, those you are a delegate for; every one for an admin)."""
        return await guarded(service.list_agents, ctx)

    @mcp.tool(annotations=acts)
    async def start_run(agent: str, task: str, ctx: McpContext, wait_seconds: float = 0) -> dict[str, Any]:
        """Start a run of one of your agents on a task (in words). Returns the run id and its status at once,
        or after waiting up to wait_seconds (0-600) for it to finish; a run that needs your approval is
        'waiting' and lists its pending approval ids. A new agent only rehearses until its owner promotes it."""
        return await guarded(service.start_run, ctx, agent, task, wait_seconds)

    @mcp.tool(annotations=read)
    async def get_run(run: str, ctx: McpContext, wait_seconds: float = 0) -> dict[str, Any]:
        """One run (id or unique prefix): status, output or error, every step (guard decisions, tool calls,
        approvals), model calls and the approvals it waits for. wait_seconds (0-600) waits for it to finish."""
        return await guarded(service.get_run, ctx, run, wait_seconds)

    @mcp.tool(annotations=read)
    async def list_runs(ctx: McpContext, agent: str | None = None, limit: int = 20) -> dict[str, Any]:
        """Recent runs you may read (your agents'; a manager also their reports'), newest first."""
        return await guarded(service.list_runs, ctx, agent, limit)

    @mcp.tool(annotations=read)
    async def list_approvals(ctx: McpContext) -> dict[str, Any]:
        """The approval requests you may answer: the exact action, every argument and where each came from, and why it asks."""
        return await guarded(service.list_approvals, ctx)

    @mcp.tool(annotations=acts)
    async def answer_approval(approval: str, decision: str, ctx: McpContext, reason: str | None = None,
                              for_run: bool = False) -> dict[str, Any]:
        """Answer a pending approval request: decision 'approve' or 'deny', with an optional reason for the
        audit log; for_run also covers identical calls later in the same run. The waiting run resumes."""
        return await guarded(service.answer_approval, ctx, approval, decision, reason, for_run)

    return mcp


def bind_loopback(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port`` (0: any free port). Raises OSError if taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def serve_http(service: Service, sock: socket.socket, ready: Callable[[str], None]) -> None:
    """Serve streamable HTTP on the bound loopback socket until SIGINT/SIGTERM; ``ready(url)`` once listening."""
    import uvicorn

    port = sock.getsockname()[1]
    mcp = build_server(service, port=port)
    app = AuditMissingToken(mcp.streamable_http_app(streamable_http_path=PATH, host="127.0.0.1"), service)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3))

    async def announce() -> None:
        while not server.started:
            await anyio.sleep(0.02)
        ready(f"http://127.0.0.1:{port}{PATH}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


async def serve_stdio(service: Service, caller: Caller) -> None:
    """Serve over this process's stdin/stdout, every call acting as ``caller``, until stdin closes."""
    await build_server(service, fixed=caller).run_stdio_async()
