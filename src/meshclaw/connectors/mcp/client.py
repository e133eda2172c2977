"""Starting or reaching an MCP server as a pydantic-ai ``MCPToolset``.

Secrets are resolved when the server starts, not when the toolset is built: the config and the
run's snapshot only ever hold ``env:``/``secret:`` references. The server process gets a minimal
environment (the MCP SDK's safe defaults) plus what ``mcp.env`` names, never MeshClaw's own
environment. Its stderr goes to a log file, so a crashing server cannot spill a traceback onto
the console; a server that does not start raises ``McpUnavailable`` with one line saying why.

The log (``<data dir>/logs/mcp-<toolset>.log``, folder 0700, file 0600) is written through a pipe:
every line the server prints passes ``domain.credentials.sanitise`` first, so a secret handed to the
server (an ``env:``/``secret:`` value) or a credential inside a URL never lands in it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from pydantic_ai.mcp import MCPToolset

from meshclaw.domain.credentials import sanitise
from meshclaw.domain.secrets import Secrets

from .errors import McpUnavailable
from meshclaw.domain.mcp_config import McpServerConfig

# The key under which a call's idempotency key travels in the MCP request's _meta, so a server can
# make the repeat of a call that was in flight when MeshClaw died a no-op.
IDEMPOTENCY_META = "meshclaw/idempotency_key"


def _run_deps() -> Any:
    from meshclaw.runtime.metered import current_run

    return current_run.get()


class _Resolver:
    """Resolves the server's secret references at start time, from the given secrets or the current run's."""

    def __init__(self, secrets: Secrets | None, log_dir: Path | None, toolset: str):
        self.secrets = secrets
        self.log_dir = log_dir
        self.toolset = toolset
        self.resolved: list[str] = []  # the values handed to the server, to redact from its error output
        self.log: _RedactedLog | None = None  # the running server's stderr, on its way to the log file

    def values(self, refs: dict[str, str]) -> dict[str, str]:
        deps = _run_deps()
        secrets = self.secrets or (deps.secrets if deps is not None else None) or Secrets(None)
        out = {name: secrets.resolve(ref) for name, ref in refs.items()}
        self.resolved = [v for v in out.values() if len(v) >= 4]
        return out

    def log_path(self) -> Path:
        deps = _run_deps()
        base = self.log_dir or (deps.store.home / "logs" if deps is not None and deps.store is not None else None)
        base = base or Path(tempfile.gettempdir()) / f"meshclaw-mcp-{os.getuid()}"
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = base / f"mcp-{self.toolset}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        if path.stat().st_mode & 0o077:  # a log left open to others by an older version
            path.chmod(0o600)
        return path


class _RedactedLog:
    """A pipe for a server's stderr, copied line by line into ``path`` (0600) with every secret in
    ``secrets`` and every URL credential replaced by ``[redacted]``, by a daemon thread."""

    def __init__(self, path: Path, secrets: list[str]):
        read_fd, write_fd = os.pipe()
        self.writer = os.fdopen(write_fd, "w")  # handed to the server process as its stderr
        self._reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(target=self._copy, args=(path, list(secrets)), daemon=True,
                                        name=f"mcp-log-{path.stem}")
        self._thread.start()

    def _copy(self, path: Path, secrets: list[str]) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab", buffering=0) as out, self._reader:
            for raw in self._reader:
                out.write(sanitise(raw.decode("utf-8", errors="replace"), secrets).encode("utf-8"))

    def close_writer(self) -> None:
        """Close this process's end once the server has it: the copy ends when the server exits."""
        if not self.writer.closed:
            self.writer.close()

    def drain(self, timeout: float = 2.0) -> None:
        """Wait (up to ``timeout`` s) until everything the server printed is in the file."""
        self.close_writer()
        self._thread.join(timeout)


class _StdioServer(StdioTransport):
    def __init__(self, cfg: McpServerConfig, resolver: _Resolver):
        # keep_alive=False: the server process lives exactly as long as the session that uses it.
        super().__init__(cfg.command or "", list(cfg.args), env=None, cwd=cfg.cwd, keep_alive=False)
        self._env_refs = dict(cfg.env)
        self._resolver = resolver

    async def connect(self, **kwargs: Any) -> Any:
        self.env = self._resolver.values(self._env_refs)
        log = _RedactedLog(self._resolver.log_path(), self._resolver.resolved)
        self._resolver.log = log
        self.log_file = log.writer
        try:
            return await super().connect(**kwargs)
        finally:
            log.close_writer()  # the server process holds its own copy


class _HttpServer(StreamableHttpTransport):
    def __init__(self, cfg: McpServerConfig, resolver: _Resolver):
        super().__init__(cfg.url or "")
        self._header_refs = dict(cfg.headers)
        self._resolver = resolver

    @contextlib.asynccontextmanager
    async def connect_session(self, **kwargs: Any) -> AsyncIterator[Any]:
        self.headers = self._resolver.values(self._header_refs)
        async with super().connect_session(**kwargs) as session:
            yield session


async def _with_idempotency_key(ctx: Any, call: Callable[..., Any], name: str, args: dict[str, Any]) -> Any:
    deps = getattr(ctx, "deps", None)
    key_of = getattr(deps, "idempotency_key", None)
    if key_of is None or not getattr(ctx, "tool_call_id", None):
        return await call(name, args)
    return await call(name, args, metadata={IDEMPOTENCY_META: key_of(ctx.tool_call_id)})


def _leaf(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


class GuardedServerToolset(MCPToolset):
    """An MCPToolset whose start-up failure is one line naming the server, never a traceback."""

    def __init__(self, toolset: str, cfg: McpServerConfig, resolver: _Resolver, **kwargs: Any):
        transport = _StdioServer(cfg, resolver) if cfg.command is not None else _HttpServer(cfg, resolver)
        super().__init__(transport, **kwargs)
        self.toolset_name = toolset
        self.server = cfg
        self._resolver = resolver

    async def __aenter__(self) -> "GuardedServerToolset":
        log = self._resolver.log_path() if self.server.command is not None else None
        offset = log.stat().st_size if log is not None and log.exists() else 0
        try:
            await super().__aenter__()
        except Exception as e:  # noqa: BLE001 - any start-up failure becomes one line
            raise McpUnavailable(self._startup_error(e, log, offset)) from None
        return self

    def _startup_error(self, e: BaseException, log: Path | None, offset: int) -> str:
        leaf = _leaf(e)
        reason = _first_line(str(leaf)) or type(leaf).__name__
        said = ""
        if self._resolver.log is not None:
            self._resolver.log.drain()
        if log is not None and log.exists():
            with open(log, encoding="utf-8", errors="replace") as f:
                f.seek(offset)
                tail = [line.strip() for line in f.read().splitlines() if line.strip()]
            said = tail[-1] if tail else ""
        for value in self._resolver.resolved:  # never echo a secret the server printed back
            reason, said = reason.replace(value, "[redacted]"), said.replace(value, "[redacted]")
        verb = "did not start" if self.server.command is not None else "could not be reached"
        text = f"MCP server {self.toolset_name} ({self.server.describe()}) {verb}: {reason}"
        return f"{text} (server said: {said[:300]})" if said and said not in reason else text


def build_server_toolset(toolset: str, cfg: McpServerConfig, *, secrets: Secrets | None = None,
                         log_dir: Path | None = None) -> GuardedServerToolset:
    """The pydantic-ai toolset for one server, with the explicit id that DBOS needs to name its steps."""
    return GuardedServerToolset(
        toolset, cfg, _Resolver(secrets, log_dir, toolset),
        id=toolset,
        # A server's tool error is reported to the model and audited by the guard, like a connector's.
        tool_error_behavior="error",
        # Fixed here, so listing tools does not depend on a run context (the Protector lists outside runs).
        max_retries=1,
        init_timeout=cfg.timeout,
        process_tool_call=_with_idempotency_key,
        # The server's own instructions are untrusted text: they never reach the model as instructions.
        include_instructions=False,
    )
