"""A deploy API that times out: a clear error, retries only for reads, never a repeated deploy.

Two real faults: a socket that accepts and never answers, and a proxy in front of the real
server (Podman's API, supervisord) that passes every request through except the one that starts
the new version, which it holds unanswered. The deploy fails with a one-line error saying it may
have taken effect; the change was sent once; a re-run of the same call does not send it again.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from meshclaw.connectors.deploy import DeployError, DeployTimeout, DeployUncertain
from meshclaw.connectors.deploy.tools import deploy_deploy, deploy_services
from tests.servers.podman import podman_service  # noqa: F401
from tests.servers.supervisord import supervisord  # noqa: F401
from tests.test_deploy_core import Target

pytestmark = pytest.mark.slow


class HoldingProxy:
    """Relays HTTP requests to ``upstream`` one per connection (Connection: close), except those
    ``hold(request_line, body)`` picks: those are read, recorded and never answered. ``upstream``
    None answers nothing at all (a server that accepts and hangs)."""

    def __init__(self, listen: socket.socket, upstream: Callable[[], socket.socket] | None,
                 hold: Callable[[str, bytes], bool] = lambda line, body: True, *, forward_held: bool = False):
        # forward_held: a held request still reaches the server; only its answer is kept back.
        self.listener, self.upstream, self.hold, self.forward_held = listen, upstream, hold, forward_held
        self.requests: list[tuple[str, bytes]] = []
        self.held: list[socket.socket] = []
        self.connections = 0
        self.listener.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        if self.upstream is None:
            self.held.append(conn)
            return
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                conn.close()
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next((int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append((lines[0], body))
        held = self.hold(lines[0], body)
        if held:
            self.held.append(conn)
            if not self.forward_held:
                return
        headers = [h for h in lines[1:] if not h.lower().startswith("connection:")] + ["Connection: close"]
        up = self.upstream()
        up.sendall(("\r\n".join([lines[0], *headers]) + "\r\n\r\n").encode("latin-1") + body)
        while chunk := up.recv(65536):
            if not held:
                conn.sendall(chunk)
        if held:
            return
        up.close()
        conn.close()

    def close(self) -> None:
        self.listener.close()
        for c in self.held:
            c.close()


def unix_listener(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    return s


def tcp_listener() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


def unix_upstream(path: Path) -> Callable[[], socket.socket]:
    def connect() -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        return s
    return connect


def tcp_upstream(port: int) -> Callable[[], socket.socket]:
    return lambda: socket.create_connection(("127.0.0.1", port))


@pytest.fixture(params=["docker", "supervisor"])
def target(request, tmp_path) -> Target:
    if request.param == "docker":
        return Target("docker", request.getfixturevalue("podman_service"), tmp_path)
    return Target("supervisor", request.getfixturevalue("supervisord"), tmp_path)


def _silent(target: Target, tmp_path: Path) -> tuple[HoldingProxy, dict[str, Any]]:
    if target.kind == "docker":
        proxy = HoldingProxy(unix_listener(tmp_path / "silent.sock"), None)
        return proxy, {"url": f"unix://{tmp_path / 'silent.sock'}"}
    proxy = HoldingProxy(tcp_listener(), None)
    return proxy, {"url": f"http://127.0.0.1:{proxy.listener.getsockname()[1]}/RPC2"}


def test_an_api_that_never_answers_gives_a_clear_error_after_retrying_reads_only(target: Target, tmp_path) -> None:
    proxy, where = _silent(target, tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(DeployTimeout) as read_error:
            asyncio.run(deploy_services(target.ctx("s1", timeout=0.5, retries=2, **where)))
        took = time.monotonic() - started
        assert proxy.connections == 3  # a read: the first try and two retries, with backoff in between
        assert took < 10
        assert f"did not answer within 0.5 s while " in str(read_error.value)
        assert "(3 attempts)" in str(read_error.value) and "\n" not in str(read_error.value)
        assert target.password == "" or target.password not in str(read_error.value)

        with pytest.raises(DeployTimeout) as deploy_error:
            asyncio.run(deploy_deploy(target.ctx("d1", timeout=0.5, retries=0, **where), service=target.service,
                                      version="1.0"))
        assert "did not answer within 0.5 s" in str(deploy_error.value)
    finally:
        proxy.close()
    assert target.deployments() == 0


def _holding_start(target: Target, tmp_path: Path) -> tuple[HoldingProxy, dict[str, Any], Callable[[], int]]:
    """A proxy that passes everything to the real server but holds the request starting the new version."""
    if target.kind == "docker":
        def hold(line: str, body: bytes) -> bool:
            return line.startswith("POST ") and line.split()[1].split("?")[0].endswith("/start")

        proxy = HoldingProxy(unix_listener(tmp_path / "proxy.sock"), unix_upstream(Path(target.server.socket)), hold)
        where = {"url": f"unix://{tmp_path / 'proxy.sock'}"}
        sent = lambda: sum(1 for line, _ in proxy.requests if line.startswith("POST ") and "/containers/create" in line)  # noqa: E731
    else:
        def hold(line: str, body: bytes) -> bool:
            return b"<methodName>supervisor.startProcess</methodName>" in body

        proxy = HoldingProxy(tcp_listener(), tcp_upstream(target.server.port), hold)
        where = {"url": f"http://127.0.0.1:{proxy.listener.getsockname()[1]}/RPC2"}
        sent = lambda: sum(1 for _, body in proxy.requests if b"supervisor.stopProcess" in body)  # noqa: E731
    return proxy, where, sent


def test_a_deploy_whose_start_times_out_is_never_sent_again(target: Target, tmp_path) -> None:
    asyncio.run(deploy_deploy(target.ctx("d0"), service=target.service, version="1.0"))
    proxy, where, changes_sent = _holding_start(target, tmp_path)
    try:
        with pytest.raises(DeployTimeout) as e:
            asyncio.run(deploy_deploy(target.ctx("d1", timeout=1, retries=2, **where), service=target.service,
                                      version="2.0"))
        message = str(e.value)
        assert "did not answer within 1 s while starting" in message and "It may have taken effect" in message
        assert "(2 attempts)" not in message and "(3 attempts)" not in message  # a change is never retried
        held = len(proxy.held)
        assert held == 1 and changes_sent() == 1

        # The durable step runs again (same call, same key): it finds the deploy and does not send it again.
        with pytest.raises(DeployUncertain, match="not started again automatically"):
            asyncio.run(deploy_deploy(target.ctx("d1", timeout=1, **where), service=target.service, version="2.0"))
        assert len(proxy.held) == held and changes_sent() == 1
    finally:
        proxy.close()
    assert target.deployments() == 2


def test_a_refused_start_brings_the_old_version_back(request, tmp_path) -> None:
    target = Target("docker", request.getfixturevalue("podman_service"), tmp_path)
    asyncio.run(deploy_deploy(target.ctx("ok"), service=target.service, version="1.0"))
    taken = tcp_listener()  # the port the new container is to publish is already in use on the host
    taken.listen(1)
    spec = {**target.settings["services"][target.service], "ports": {8080: taken.getsockname()[1]}}
    try:
        with pytest.raises(DeployError) as e:
            asyncio.run(deploy_deploy(target.ctx("clash", services={target.service: spec}), service=target.service,
                                      version="2.0"))
    finally:
        taken.close()
    assert f"{target.service} 1.0 was started again" in str(e.value)
    health = asyncio.run(deploy_services(target.ctx("after")))["services"][0]
    assert (health["version"], health["state"]) == ("1.0", "running")
