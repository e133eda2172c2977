"""``meshclaw mcp-server`` in a real process for tests, and MCP clients that talk to it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from tests.cli_support import MESHCLAW, ROOT
from tests.waiting import wait_for


@dataclass
class ServerProcess:
    """A running ``meshclaw mcp-server --http --port 0``; ``stderr`` collects its lines as they come."""

    proc: subprocess.Popen
    url: str = ""
    stderr: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")}
    return {**env, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",  # this checkout's code, also in a worktree
            "MESHCLAW_HOME": str(home),
            "MESHCLAW_MODEL_DIR": str(home / "models"), **extra}


def start_http_server(home: Path, timeout: float = 60) -> ServerProcess:
    """Start the HTTP server on a free loopback port and wait until it says where it listens."""
    proc = subprocess.Popen([*MESHCLAW, "mcp-server", "--http", "--port", "0"], env=server_env(home), cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = ServerProcess(proc)

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            server.stderr.append(line.rstrip("\n"))

    threading.Thread(target=drain, daemon=True).start()

    def ready() -> str | None:
        if not server.alive():
            raise AssertionError("mcp-server exited:\n" + "\n".join(server.stderr))
        return next((w for line in server.stderr for w in line.split() if w.startswith("http://127.0.0.1:")), None)

    server.url = wait_for(ready, timeout, 0.05, what="the MCP server listening")
    return server


def stdio_command(*extra: str) -> tuple[str, list[str]]:
    """The command and arguments an MCP client runs to start ``meshclaw mcp-server --stdio``."""
    return sys.executable, ["-m", "meshclaw.surfaces.cli.main", "mcp-server", "--stdio", *extra]


@asynccontextmanager
async def http_client(url: str, token: str | None) -> AsyncIterator[Any]:
    """The ``mcp`` SDK's Client over streamable HTTP, sending ``Authorization: Bearer <token>``."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def call(client: Any, tool: str, **args: Any) -> Any:
    """Call a tool; returns (is_error, structured result or the error text)."""
    r = await client.call_tool(tool, args)
    if r.is_error:
        return True, " ".join(getattr(c, "text", "") for c in r.content)
    return False, r.structured_content
