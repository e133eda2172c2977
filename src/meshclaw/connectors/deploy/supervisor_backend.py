"""Processes under supervisord, through its XML-RPC interface on loopback with HTTP basic auth.

A service is a supervisord program that runs from ``<root>/current``, a symlink to
``<root>/releases/<version>``. Deploy: record the deploy in ``<root>/deploys.jsonl`` (one JSON
object per line: version, key, kind, at, previous), switch the symlink atomically (a new link
renamed over the old), then restart the program (stopProcess, startProcess). A deploy whose key
is already in the record is not started again.

The password goes only into the Authorization header of each request (never into a URL, which
``xmlrpc.client`` would quote in its errors).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import xmlrpc.client
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .backend import Deployment, ServiceState, failure, retrying, short_key
from .errors import DeployError, DeployNotFound, DeployUncertain
from .settings import DeploySettings

JOURNAL = "deploys.jsonl"
_TIMEOUTS = (socket.timeout, TimeoutError)
_TRANSIENT = _TIMEOUTS + (ConnectionError, http.client.HTTPException, OSError)
_STATES = {"RUNNING": "running", "STARTING": "starting", "BACKOFF": "starting", "STOPPING": "stopped",
           "STOPPED": "stopped", "EXITED": "exited", "FATAL": "failed", "UNKNOWN": "failed"}


class _Transport(xmlrpc.client.Transport):
    """HTTP transport with a timeout and basic auth in a header."""

    def __init__(self, timeout: float, authorization: str):
        super().__init__()
        self._timeout, self._authorization = timeout, authorization

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn

    def send_headers(self, connection: http.client.HTTPConnection, headers: list) -> None:
        super().send_headers(connection, headers)
        connection.putheader("Authorization", self._authorization)


class SupervisorBackend:
    """Deploy backend over supervisord's XML-RPC at ``settings.url`` (see the module docstring)."""

    def __init__(self, settings: DeploySettings, password: str):
        self.settings = settings
        token = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
        self._rpc = xmlrpc.client.ServerProxy(settings.url, transport=_Transport(settings.timeout, f"Basic {token}"),
                                              allow_none=True)

    def close(self) -> None:
        self._rpc("close")()

    def _fault(self, what: str, e: Exception) -> DeployError:
        if isinstance(e, xmlrpc.client.ProtocolError) and e.errcode == 401:
            return DeployError(f"supervisord at {self.settings.url} refused the username or password")
        if isinstance(e, xmlrpc.client.ProtocolError):
            return DeployError(f"supervisord at {self.settings.url} answered HTTP {e.errcode} while {what}")
        return DeployError(f"supervisord refused {what}: {getattr(e, 'faultString', e)}")

    def _read(self, what: str, fn: Any) -> Any:
        try:
            return retrying(self.settings, what, fn, _TRANSIENT, _TIMEOUTS)
        except (xmlrpc.client.Fault, xmlrpc.client.ProtocolError) as e:
            raise self._fault(what, e) from None

    def _change(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except (xmlrpc.client.Fault, xmlrpc.client.ProtocolError) as e:
            raise self._fault(what, e) from None
        except _TRANSIENT as e:
            raise failure(self.settings, what, e, _TIMEOUTS, changing=True) from None

    # --- files -------------------------------------------------------------------------------------

    def _root(self, service: str) -> Path:
        spec = self.settings.services.get(service)
        if spec is None:
            raise DeployNotFound(f"there is no service {service!r}; services: {', '.join(self.settings.services)}")
        return Path(spec.root or "")

    def _journal(self, service: str) -> list[Deployment]:
        path = self._root(service) / JOURNAL
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(Deployment(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: the record before it still counts
        return out

    def _current_version(self, service: str) -> str | None:
        try:
            return Path(os.readlink(self._root(service) / "current")).name
        except OSError:
            return None

    def versions(self, service: str) -> list[str]:
        releases = self._root(service) / "releases"
        return sorted(p.name for p in releases.iterdir() if p.is_dir()) if releases.is_dir() else []

    # --- reads ---------------------------------------------------------------------------------------

    def state(self, service: str) -> ServiceState:
        self._root(service)  # an unknown service is named as such before supervisord is asked
        program = self.settings.program_of(service)
        info = self._read(f"reading the state of {program}", lambda: self._rpc.supervisor.getProcessInfo(program))
        state = _STATES.get(info.get("statename", "UNKNOWN"), "failed")
        since = info.get("start") if state == "running" else info.get("stop")
        when = datetime.fromtimestamp(since, timezone.utc).isoformat(timespec="seconds") if since else None
        detail = "" if state == "running" else f"{info.get('statename')}: {info.get('description', '')}".strip()
        return ServiceState(service, self._current_version(service), state, since=when, detail=detail,
                            history=tuple(self._journal(service)))

    def logs(self, service: str, lines: int) -> list[str]:
        self._root(service)
        program = self.settings.program_of(service)
        out: list[str] = []
        for stream in ("Stdout", "Stderr"):
            tail = self._read(f"reading {program}'s {stream.lower()} log", lambda s=stream: getattr(
                self._rpc.supervisor, f"tailProcess{s}Log")(program, 0, 64 * 1024))
            out += str(tail[0]).splitlines()
        return out[-lines:]

    # --- the deploy --------------------------------------------------------------------------------

    def deploy(self, service: str, version: str, key: str, kind: str) -> tuple[ServiceState, bool]:
        root, program = self._root(service), self.settings.program_of(service)
        journal = self._journal(service)
        done = next((d for d in journal if d.key == key), None)
        if done is not None:
            current, state = self._current_version(service), self.state(service)
            if done is journal[-1] and (current != done.version or not state.running):
                raise DeployUncertain(
                    f"an earlier attempt of this {kind} of {service} to {done.version} (started {done.at}) did not "
                    f"visibly finish (current is {current}, {state.state}): it is not started again automatically; "
                    f"check the service, then deploy again")
            return state, False
        if version not in self.versions(service):
            raise DeployNotFound(f"{service} has no version {version!r} in {root / 'releases'}; "
                                 f"versions: {', '.join(self.versions(service)) or 'none'}")
        self.state(service)  # supervisord answers (a read, retried) before anything is changed
        record = Deployment.new(version, key, kind, self._current_version(service))
        with open(root / JOURNAL, "a", encoding="utf-8") as f:  # the record comes first: a replay finds it
            f.write(json.dumps(record.as_dict()) + "\n")
            f.flush()
            os.fsync(f.fileno())
        link = root / f".current-{short_key(key)}"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("releases") / version)
        os.replace(link, root / "current")
        try:
            self._change(f"stopping {program}", lambda: self._rpc.supervisor.stopProcess(program, True))
        except DeployError as e:
            if "NOT_RUNNING" not in str(e):
                raise
        self._change(f"starting {program}", lambda: self._rpc.supervisor.startProcess(program, True))
        return self.state(service), True
