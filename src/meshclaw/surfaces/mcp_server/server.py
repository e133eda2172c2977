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

import contextvars
import json
import socket
from typing import Any, Callable

import anyio
from mcp.server import MCPServer
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context as McpContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from meshclaw import __version__
from meshclaw.domain.errors import NotAuthorized
from meshclaw.operations.actor import Actor

from ..long_lived import freeze_startup_objects
from .service import Caller, CallRefused, Service

HTTP, STDIO = "mcp-http", "mcp-stdio"
PATH = "/mcp"
INSTRUCTIONS = ("MeshClaw runs AI agents that act for employees. You act as the employee whose token you hold: "
                "list your agents, start a run, read its result and steps, and answer your pending approvals.")


_checked: contextvars.ContextVar[tuple[str, AccessToken] | None] = contextvars.ContextVar("meshclaw_token", default=None)


def _access(ctx: Any, token: str | None) -> AccessToken:
    """Authenticate a presented token (NotAuthorized, audited, when refused) as the SDK's AccessToken."""
    from meshclaw.operations.tokens import authenticate

    actor, token_id = authenticate(ctx, token, surface=HTTP)
    return AccessToken(token=token_id, client_id=token_id, scopes=[], subject=actor.user_id,
                       claims={"roles": sorted(actor.roles)})


class TokenVerifier:
    """The SDK's bearer-token hook: a personal token → an AccessToken naming its user and roles, or None (401).

    ``BearerCheck`` has already checked the token of this request; this takes its answer."""

    def __init__(self, service: Service):
        self.service = service

    async def verify_token(self, token: str) -> AccessToken | None:
        checked = _checked.get()
        if checked is not None and checked[0] == token:
            return checked[1]

        def check() -> AccessToken | None:
            try:
                return _access(self.service.context(), token)
            except NotAuthorized:
                return None

        return await anyio.to_thread.run_sync(check)


class BearerCheck:
    """ASGI wrapper in front of the SDK's app: every request to the MCP endpoint must carry a valid
    personal token. A refused one (missing, malformed, unknown, revoked, expired) is audited and
    answered 401 with the reason in ``WWW-Authenticate`` and the JSON body."""

    def __init__(self, app: Any, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("path", "").rstrip("/") != PATH:
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None

        def check() -> AccessToken | str:
            try:
                return _access(self.service.context(), token)
            except NotAuthorized as e:
                return e.one_line()

        verdict = await anyio.to_thread.run_sync(check)
        if isinstance(verdict, str):
            await _unauthorized(send, verdict)
            return
        assert token is not None
        mark = _checked.set((token, verdict))
        try:
            await self.app(scope, receive, send)
        finally:
            _checked.reset(mark)


async def _unauthorized(send: Any, why: str) -> None:
    body = json.dumps({"error": "invalid_token", "error_description": why}).encode()
    quoted = why.replace("\\", "").replace('"', "'")
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", f'Bearer error="invalid_token", error_description="{quoted}"'.encode("latin-1", "replace"))]})
    await send({"type": "http.response.body", "body": body})


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
    mcp = MCPServer("meshclaw", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING", **auth)
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

    from .usage_tool import register as register_usage
    register_usage(mcp, service, guarded, read)  # usage: the report of `meshclaw usage`, read-only
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
    app = BearerCheck(mcp.streamable_http_app(streamable_http_path=PATH, host="127.0.0.1"), service)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3))
    freeze_startup_objects()

    async def announce() -> None:
        while not server.started:
            await anyio.sleep(0.02)
        ready(f"http://127.0.0.1:{port}{PATH}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


async def serve_stdio(service: Service, caller: Caller) -> None:
    """Serve over this process's stdin/stdout, every call acting as ``caller``, until stdin closes.

    A line that is not a JSON-RPC message gets a JSON-RPC parse error (id null) and the server
    reads on; the SDK's own stdio transport would drop it without a word."""
    from mcp.server.stdio import stdio_server

    mcp = build_server(service, fixed=caller)
    freeze_startup_objects()
    lowlevel = mcp._lowlevel_server  # the SDK's own run_stdio_async does the same with its streams
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(ParseErrorReplies(read_stream, write_stream), write_stream,
                           lowlevel.create_initialization_options())


class ParseErrorReplies:
    """A read stream of an MCP transport that answers each unreadable message with a JSON-RPC parse
    error (``-32700``, id null, the parser's first line) instead of passing the exception on."""

    def __init__(self, inner: Any, write_stream: Any):
        self.inner, self.write_stream = inner, write_stream

    async def receive(self) -> Any:
        from mcp.shared.message import SessionMessage
        from mcp_types import PARSE_ERROR, ErrorData, JSONRPCError

        while True:
            item = await self.inner.receive()
            if not isinstance(item, Exception):
                return item
            first = (str(item).strip().splitlines() or [type(item).__name__])[0]
            error = ErrorData(code=PARSE_ERROR, message=f"Parse error: not a JSON-RPC message ({first[:200]})")
            await self.write_stream.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=None, error=error)))

    def __getattr__(self, name: str) -> Any:  # last_context and whatever else the SDK asks of its stream
        return getattr(self.inner, name)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __aiter__(self) -> "ParseErrorReplies":
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> "ParseErrorReplies":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
