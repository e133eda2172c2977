"""``meshclaw mcp-server --http [--port N]`` and ``meshclaw mcp-server --stdio``: MeshClaw as an MCP server."""

from __future__ import annotations

import typer

from .app_context import CliError, load, local_actor, open_runtime

DEFAULT_PORT = 8767


def mcp_server(
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP on 127.0.0.1 (bearer tokens)."),
    stdio: bool = typer.Option(False, "--stdio", help="Serve over stdin/stdout (for a client that starts this command)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="HTTP port on 127.0.0.1 (0: any free port)."),
) -> None:
    """Let an employee's MCP client list their agents, start runs, read results and steps, and answer approvals.

    --http listens on 127.0.0.1 only; each request needs `Authorization: Bearer <token>` from
    `meshclaw tokens create`. --stdio acts as the user of MESHCLAW_TOKEN if set, else as the user
    this login maps to in `local_users`. Runs started here run in this process; if it stops, a
    worker or `meshclaw resume` finishes them."""
    if http == stdio:
        raise CliError("choose one transport: --http or --stdio", 2)
    config = load()
    if stdio:
        _serve_stdio(config)
    else:
        _serve_http(port)


def _serve_http(port: int) -> None:
    import anyio

    from ..mcp_server.server import bind_loopback, serve_http

    try:
        sock = bind_loopback(port)
    except OSError as e:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
    service, runtime = _service()
    try:
        anyio.run(serve_http, service, sock,
                  lambda url: typer.echo(f"meshclaw MCP server on {url} (Authorization: Bearer <token>)", err=True))
    finally:
        runtime.shutdown()


def _serve_stdio(config) -> None:  # type: ignore[no-untyped-def]
    import anyio

    from meshclaw.domain.environment import environment

    from ..mcp_server.server import STDIO, serve_stdio
    from ..mcp_server.service import Caller
    from .app_context import context

    token = environment().token
    if token:
        from meshclaw.operations.tokens import authenticate

        actor, token_id = authenticate(context(config), token, surface=STDIO)  # NotAuthorized: one line, exit 3
    else:
        actor, token_id = local_actor(config), None
    service, runtime = _service()
    try:
        anyio.run(serve_stdio, service, Caller(actor, token_id, STDIO))
    finally:
        runtime.shutdown()


def _service():  # type: ignore[no-untyped-def]
    from ..mcp_server.service import Service
    from ..worker import config_reloader
    from .home import config_path

    runtime = open_runtime()
    return Service(runtime, config_reloader(runtime.config, config_path(), load)), runtime
