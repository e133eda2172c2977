"""A private Matrix Synapse homeserver for tests: SQLite, 127.0.0.1, random port, temp dir.

Synapse (PyPI ``matrix-synapse``, a test extra) runs as a subprocess (``python -m
synapse.app.homeserver``). No federation (``trusted_key_servers: []``, no federation listener);
the signing key is written in-process with ``signedjson`` instead of ``--generate-keys``; users are
registered through the shared-secret admin API (``/_synapse/admin/v1/register``, HMAC-SHA1 of
nonce, user, password and admin flag). Rate limits are raised so tests never meet them, unless
``low_rate_limits`` asks for a server that answers 429 with Retry-After quickly.

    with start_synapse() as hs:
        token, device = hs.register("alice", "pw")
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SERVER_NAME = "localhost"

_RAISED = {"per_second": 1000, "burst_count": 1000}
_LOW = {"per_second": 0.5, "burst_count": 2}


def synapse_available() -> bool:
    try:
        import synapse  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass
class SynapseServer:
    """A running homeserver: ``url`` is the client-server API base; ``accounts`` by localpart."""

    root: Path
    port: int
    shared_secret: str
    accounts: dict[str, Account] = field(default_factory=dict)
    process: subprocess.Popen | None = field(default=None, repr=False)
    config_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        req = urllib.request.Request(self.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for _ in range(20):  # seeding honours the server's rate limits (429 with retry_after_ms)
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    return json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as e:
                if e.code != 429:
                    raise
                time.sleep(json.loads(e.read() or b"{}").get("retry_after_ms", 1000) / 1000)
        raise RuntimeError(f"{method} {path}: still rate-limited")

    def register(self, localpart: str, password: str | None = None, *, admin: bool = False) -> Account:
        """Register ``@localpart:localhost`` through the shared-secret admin API; returns its login."""
        password = password or secrets.token_urlsafe(12)
        nonce = self._request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        out = self._request("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac.hexdigest()})
        account = Account(out["user_id"], password, out["access_token"], out["device_id"])
        self.accounts[localpart] = account
        return account

    def api(self, method: str, path: str, body: dict | None = None, *, as_user: str) -> dict:
        """A client-server API call as a registered user (for seeding rooms and messages in tests)."""
        return self._request(method, "/_matrix/client/v3" + path, body, self.accounts[as_user].access_token)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def start(self, timeout: float = 60.0) -> None:
        """(Re)start the process on the same port and database."""
        log = self.root / "synapse.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(self.config_path)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root)
        _wait_ready(self, log, timeout)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "SynapseServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _write_signing_key(path: Path) -> None:
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as f:
        write_signing_keys(f, [generate_signing_key("a_" + secrets.token_hex(2))])


def _config(root: Path, port: int, shared_secret: str, low_rate_limits: bool) -> str:
    limit = _LOW if low_rate_limits else _RAISED
    limits = {name: limit for name in ("rc_message", "rc_joins_per_room")}
    limits["rc_registration"] = _RAISED  # accounts are made by the fixture, never by the code under test
    limits["rc_login"] = {"address": _RAISED, "account": _RAISED, "failed_attempts": _RAISED}
    limits["rc_joins"] = {"local": limit, "remote": limit}
    limits["rc_invites"] = {"per_room": limit, "per_user": limit, "per_issuer": limit}
    limits["rc_room_creation"] = limit
    limits["rc_presence"] = {"per_user": _RAISED}
    limits["rc_delayed_event_mgmt"] = _RAISED
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(root / "homeserver.pid"),
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}},
        "log_config": str(root / "log.yaml"),
        "media_store_path": str(root / "media"),
        "signing_key_path": str(root / "signing.key"),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "report_stats": False,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        **limits,
    }
    return json.dumps(config)  # YAML is a superset of JSON


_LOG_YAML = """\
version: 1
formatters:
  precise: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: precise, filename: synapse-server.log}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


def _wait_ready(server: SynapseServer, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"synapse exited with {server.process.returncode}: {log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(server.url + "/_matrix/client/versions", timeout=1)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise RuntimeError(f"synapse did not answer on {server.url} within {timeout} s: {log.read_text()[-3000:]}")


def start_synapse(*, low_rate_limits: bool = False, timeout: float = 60.0) -> SynapseServer:
    """Start a private Synapse; raises RuntimeError with the end of its log if it does not come up."""
    root = Path(tempfile.mkdtemp(prefix="meshclaw-synapse-"))
    port = free_port()
    shared = secrets.token_urlsafe(24)
    (root / "media").mkdir()
    _write_signing_key(root / "signing.key")
    (root / "log.yaml").write_text(_LOG_YAML)
    config_path = root / "homeserver.yaml"
    config_path.write_text(_config(root, port, shared, low_rate_limits))
    server = SynapseServer(root=root, port=port, shared_secret=shared, config_path=config_path)
    try:
        server.start(timeout)
    except BaseException:
        server.remove()
        raise
    return server


if __name__ == "__main__":  # manual check: python -m tests.servers.synapse
    began = time.monotonic()
    with start_synapse() as hs:
        ready = time.monotonic() - began
        t = time.monotonic()
        hs.register("alice")
        print(f"synapse ready in {ready:.2f} s at {hs.url}; registered a user in {time.monotonic() - t:.2f} s")


# --- pytest fixtures (import them into a test module) ------------------------------------------

_shared: SynapseServer | None = None


def shared_synapse() -> SynapseServer:
    """One homeserver per test process, however many modules use it; stopped at exit."""
    import atexit

    global _shared
    if _shared is None:
        _shared = start_synapse()
        atexit.register(_shared.remove)
    return _shared


try:
    import pytest

    @pytest.fixture(scope="session")
    def synapse() -> SynapseServer:
        """The session's Synapse (skipped when matrix-synapse is not installed: scripts/setup installs it)."""
        if not synapse_available():
            pytest.skip("matrix-synapse is not installed: run scripts/setup (test extra)")
        return shared_synapse()
except ImportError:  # running this file by hand without pytest
    pass


def unique(localpart: str) -> str:
    """A localpart no other test of this process has registered (``alice-3f2a``)."""
    return f"{localpart}-{secrets.token_hex(3)}"
