"""Handing runs to a running worker: `meshclaw run` without loading the runtime in the CLI.

A running ``meshclaw worker`` listens on a Unix socket in the data dir (mode 0600: only the user
who owns the data dir can connect; nothing listens on the network). ``meshclaw run`` connects,
sends one request, and prints the run's steps as the worker streams them back, so a command that
would spend over a second importing the model and durable-run libraries takes a fraction of it.
The run is the worker's: if the command is interrupted, the run goes on (``meshclaw runs show``).

The protocol is JSON lines. Request: ``{"op": "run", "agent", "task", "rehearse", "inputs_from",
"config", "store"}``; the worker answers ``{"kind": "unavailable"}`` when it serves another
configuration file or store (the command then runs the agent itself), else the run's events,
then ``{"kind": "outcome", ...}``, or ``{"kind": "error", "message"}``.

This module is imported by the worker only; the command's side is ``cli/handoff_client.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from meshclaw.domain.runs import RunEvent

from .cli.home import worker_socket

log = logging.getLogger(__name__)

def new_agent_notice(agent: str) -> str:
    return (f"{agent} is new, so this is a rehearsal: writes are captured, not executed. "
            f"Promote it with `meshclaw promote {agent}` to let it act.")


async def serve_handoff(runtime: Any, home: Path, config_file: Path, store_url: str | None,
                        reload_config: Callable[[], Any], summarise: Callable[[Any, str], list[str]]) -> asyncio.AbstractServer:
    """Listen for runs handed over by `meshclaw run`. ``reload_config`` returns the current configuration
    (the file may have changed since the worker started); ``summarise`` gives a rehearsal's summary lines."""
    path = worker_socket(home)
    if path.exists() or path.is_symlink():
        path.unlink()  # a socket left by a worker that died; a live one would still be serving
    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _serve_one(r, w, runtime, config_file, store_url, reload_config, summarise), path=str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return server


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, runtime: Any, config_file: Path,
                     store_url: str | None, reload_config: Callable[[], Any], summarise: Callable[[Any, str], list[str]]) -> None:
    def send(message: dict[str, Any]) -> None:
        writer.write((json.dumps(message, ensure_ascii=False, default=str) + "\n").encode())

    try:
        line = await reader.readline()
        request = json.loads(line or b"{}")
        if request.get("op") != "run":
            send({"kind": "error", "message": "the worker understands only {'op': 'run'} requests"})
            return
        if (Path(request.get("config", "")).expanduser().resolve() != config_file.resolve()
                or request.get("store") != store_url):
            send({"kind": "unavailable", "message": "the worker serves another configuration or store"})
            return
        try:
            runtime.config = reload_config()
            agent = runtime.config.agent(str(request.get("agent")))
        except Exception as e:  # noqa: BLE001 - a broken config or unknown agent: the person sees one line
            from .cli.errors import friendly

            send({"kind": "error", "message": friendly(e)[0]})
            return
        rehearse = bool(request.get("rehearse")) or request.get("inputs_from") is not None
        if not rehearse and not runtime.store.agents.is_promoted(agent.name):
            rehearse = True
            send({"kind": "notice", "message": new_agent_notice(agent.name)})
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        try:
            run_id = await runtime.start(agent.name, str(request.get("task", "")), rehearsal=rehearse,
                                         listeners=[events.put_nowait], inputs_from=request.get("inputs_from"))
        except ValueError as e:
            send({"kind": "error", "message": str(e)})
            return
        send({"kind": "started", "run_id": run_id})
        waiting = asyncio.ensure_future(runtime.wait(run_id))
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
              "error": outcome.error, "summary": summarise(runtime.store, run_id) if rehearse else []})
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the command went away; the run (if started) goes on in the worker
    except Exception:  # noqa: BLE001 - one bad connection must not stop the worker
        log.exception("handing over a run failed")
        send({"kind": "error", "message": "the worker failed to take the run; see its log"})
    finally:
        try:
            await writer.drain()
            writer.close()
        except (ConnectionError, RuntimeError):
            pass
