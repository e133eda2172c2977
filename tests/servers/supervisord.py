"""A private supervisord for tests: XML-RPC on 127.0.0.1 (random port) with a username and password.

Each service is a program that runs busybox httpd from ``<root>/current`` (a symlink to
``<root>/releases/<version>``), serving ``www/health``:

- releases ``1.0`` and ``2.0`` have ``www/health``;
- release ``3.0-broken`` has none, so its health URL answers 404 while the process keeps running.

``new_service()`` adds a program to the running supervisord (an include file, then
``reloadConfig`` and ``addProcessGroup`` over XML-RPC), so each test has its own service. Nothing
is deployed at first: the program is stopped and ``current`` does not exist.
"""

from __future__ import annotations

import atexit
import itertools
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers.podman import BUSYBOX
from tests.servers.radicale import free_port

USERNAME = "deployer"
RELEASES = {"1.0": True, "2.0": True, "3.0-broken": False}  # version -> has a health file

CONFIG = """\
[supervisord]
nodaemon = true
logfile = {root}/supervisord.log
pidfile = {root}/supervisord.pid
childlogdir = {root}/logs
loglevel = warn

[inet_http_server]
port = 127.0.0.1:{port}
username = {username}
password = {password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[include]
files = {root}/programs/*.conf
"""

PROGRAM = """\
[program:{name}]
command = /bin/sh -c 'echo serving $(cat VERSION); exec {busybox} httpd -f -v -p 127.0.0.1:{port} -h www'
directory = {root}/current
autostart = false
autorestart = false
startsecs = 0
stopwaitsecs = 2
stopasgroup = true
killasgroup = true
redirect_stderr = true
stdout_logfile = {root}/{name}.log
"""


def supervisord_available() -> bool:
    try:
        import supervisor  # noqa: F401
    except ImportError:
        return False
    return Path(BUSYBOX).exists()


@dataclass
class Supervisord:
    root: Path
    port: int
    password: str
    process: subprocess.Popen | None = None
    started_in: float = 0.0
    _names: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/RPC2"

    def rpc(self) -> Any:
        return xmlrpc.client.ServerProxy(f"http://{USERNAME}:{self.password}@127.0.0.1:{self.port}/RPC2")

    def new_service(self) -> tuple[str, dict[str, Any]]:
        """A new program with its releases; returns its name and deploy settings entry."""
        name = f"app{next(self._names)}"
        port = free_port()
        home = self.root / "services" / name
        for version, healthy in RELEASES.items():
            www = home / "releases" / version / "www"
            www.mkdir(parents=True)
            (www.parent / "VERSION").write_text(version)
            if healthy:
                (www / "health").write_text("ok\n")
        (self.root / "programs" / f"{name}.conf").write_text(
            PROGRAM.format(name=name, busybox=BUSYBOX, port=port, root=home))
        rpc = self.rpc()
        rpc.supervisor.reloadConfig()
        rpc.supervisor.addProcessGroup(name)
        return name, {"root": str(home), "health_url": f"http://127.0.0.1:{port}/health"}

    def settings(self, services: dict[str, dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        return {"backend": "supervisor", "url": self.url, "username": USERNAME, "password": "secret:deploy_pw",
                "services": services, "stop_timeout": 2, "start_wait": 3, **overrides}

    def pid(self, program: str) -> int:
        return int(self.rpc().supervisor.getProcessInfo(program)["pid"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def start_supervisord(timeout: float = 20.0) -> Supervisord:
    root = Path(tempfile.mkdtemp(prefix="meshclaw-supervisord-"))
    root.chmod(0o700)
    for d in ("programs", "logs", "services"):
        (root / d).mkdir()
    server = Supervisord(root, free_port(), secrets.token_urlsafe(16))
    conf = root / "supervisord.conf"
    conf.write_text(CONFIG.format(root=root, port=server.port, username=USERNAME, password=server.password))
    conf.chmod(0o600)
    started = time.perf_counter()
    server.process = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=(root / "stderr.log").open("wb"),
                                      stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"supervisord exited: {(root / 'stderr.log').read_text()[-2000:]}")
        try:
            if server.rpc().supervisor.getState()["statename"] == "RUNNING":
                break
        except (OSError, xmlrpc.client.Error):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"supervisord did not answer within {timeout} s")
        time.sleep(0.05)
    server.started_in = time.perf_counter() - started
    return server


_shared: Supervisord | None = None


@pytest.fixture(scope="session")
def supervisord() -> Supervisord:
    """One supervisord per test process (started on first use, stopped at exit)."""
    global _shared
    if not supervisord_available():
        pytest.skip("supervisor (pip) or busybox-static (apt) is missing: run scripts/setup and "
                    "scripts/install-test-services.sh")
    if _shared is None:
        _shared = start_supervisord()
        atexit.register(_shared.stop)
    return _shared
