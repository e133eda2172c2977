"""Handing runs to a running worker: `meshclaw run` without loading the runtime in the CLI.

A running ``meshclaw worker`` listens on a Unix socket in the data dir (mode 0600: only the user
who owns the data dir can connect; nothing listens on the network). ``meshclaw run`` connects,
sends one request, and prints the run's steps as the worker streams them back, so a command that
would spend over a second importing the model and durable-run libraries takes a fraction of it.
The run is the worker's: if the command is interrupted, the run goes on (``meshclaw runs show``).

The acting user is the connecting process's: the worker reads its uid from the socket
(``SO_PEERCRED``) and maps that login with ``local_users``, exactly as a command run in a shell
is mapped (``meshclaw.operations.actor``). The request's ``login`` must name the same login.

The protocol is JSON lines. Request: ``{"op": "run", "agent", "task", "rehearse", "inputs_from",
"config", "store", "login"}``; the worker answers ``{"kind": "unavailable"}`` when it serves another
configuration file or store (the command then runs the agent itself), else ``{"kind": "notice",
"message"}`` when the run became a rehearsal, ``{"kind": "started", "run_id"}``, the run's events,
then ``{"kind": "outcome", ...}``; or ``{"kind": "error", "message", "code"}`` (the exit code).

This module is imported by the worker only; the command's side is ``cli/handoff_client.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any, Callable

from meshclaw.domain.errors import NotAuthorized
from meshclaw.domain.runs import RunEvent

from .cli.home import worker_socket

log = logging.getLogger(__name__)


async def serve_handoff(runtime: Any, home: Path, config_file: Path, store_url: str | None,
                        reload_config: Callable[[], Any]) -> asyncio.AbstractServer:
    """Listen for runs handed over by `meshclaw run`. ``reload_config`` returns the current configuration
    (the file may have changed since the worker started)."""
    path = worker_socket(home)
    if path.exists() or path.is_symlink():
        path.unlink()  # a socket left by a worker that died; a live one would still be serving
    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _serve_one(r, w, runtime, config_file, store_url, reload_config), path=str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return server


def peer_login(writer: asyncio.StreamWriter) -> str:
    """The login of the process at the other end of the Unix socket (its uid, from the kernel)."""
    from meshclaw.operations.actor import login_of_uid

    sock = writer.get_extra_info("socket")
    peercred = getattr(socket, "SO_PEERCRED", None)
    if sock is None or peercred is None:
        return login_of_uid(os.geteuid())  # no peer credentials here: the 0600 socket admits only its owner
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    return login_of_uid(uid)


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, runtime: Any, config_file: Path,
                     store_url: str | None, reload_config: Callable[[], Any]) -> None:
    from meshclaw.operations.actor import Actor
    from meshclaw.operations.runs import finish, start_run

    def send(message: dict[str, Any]) -> None:
        writer.write((json.dumps(message, ensure_ascii=False, default=str) + "\n").encode())

    try:
        line = await reader.readline()
        request = json.loads(line or b"{}")
        if request.get("op") != "run":
            send({"kind": "error", "message": "the worker understands only {'op': 'run'} requests", "code": 2})
            return
        if (Path(request.get("config", "")).expanduser().resolve() != config_file.resolve()
                or request.get("store") != store_url):
            send({"kind": "unavailable", "message": "the worker serves another configuration or store"})
            return
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        try:
            runtime.config = reload_config()
            login = peer_login(writer)
            if request.get("login") not in (None, login):
                raise NotAuthorized(f"the request names login {request.get('login')!r}, but comes from {login!r}")
            started = await start_run(runtime, Actor.local(runtime.config, login), str(request.get("agent")),
                                      str(request.get("task", "")), rehearse=bool(request.get("rehearse")),
                                      inputs_from=request.get("inputs_from"), listeners=[events.put_nowait])
        except Exception as e:  # noqa: BLE001 - a broken config, unknown agent, no authority: the person sees one line
            from .cli.errors import friendly

            message, code = friendly(e)
            send({"kind": "error", "message": message, "code": code})
            return
        if started.notice:
            send({"kind": "notice", "message": started.notice})
        send({"kind": "started", "run_id": started.run_id})
        waiting = asyncio.ensure_future(finish(runtime, started))
        while not waiting.done() or not events.empty():
            getting = asyncio.ensure_future(events.get())
            await asyncio.wait({getting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if getting.done():
                event = getting.result()
                send(event.as_dict() if isinstance(event, RunEvent) else event)
                await writer.drain()
            else:
                getting.cancel()
        outcome = waiting.result()
        send({"kind": "outcome", "run_id": outcome.run_id, "status": outcome.status, "output": outcome.output,
              "error": outcome.error, "summary": outcome.summary})
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the command went away; the run (if started) goes on in the worker
    except Exception:  # noqa: BLE001 - one bad connection must not stop the worker
        log.exception("handing over a run failed")
        send({"kind": "error", "message": "the worker failed to take the run; see its log", "code": 1})
    finally:
        try:
            await writer.drain()
            writer.close()
        except (ConnectionError, RuntimeError):
            pass
