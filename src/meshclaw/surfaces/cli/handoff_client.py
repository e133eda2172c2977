"""`meshclaw run` handing its run to a running worker (see ``meshclaw.surfaces.handoff``).

Kept free of the runtime, store and model libraries: the point is a command that starts fast.
The worker decides who is acting from this process's uid; the request names the login too.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
from typing import Any

import typer

from .app_context import CliError
from .home import config_path, store_url, worker_socket


def hand_over(agent: str, task: str, *, quiet: bool, rehearse: bool, inputs_from: str | None) -> int | None:
    """Run the task in the worker and print it as it happens; the exit code, or None if no worker takes it."""
    path = worker_socket()
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None  # a socket file left by a worker that is gone
    request = {"op": "run", "agent": agent, "task": task, "rehearse": rehearse, "inputs_from": inputs_from,
               "config": str(config_path()), "store": store_url(), "login": _login()}
    run_id = None
    try:
        sock.sendall((json.dumps(request) + "\n").encode())
        for line in sock.makefile("r", encoding="utf-8"):
            event: dict[str, Any] = json.loads(line)
            kind = event.get("kind")
            if kind == "unavailable":
                return None
            if kind == "error":
                raise CliError(event["message"], int(event.get("code", 1)))
            if kind == "started":
                run_id = event["run_id"]
            elif kind == "notice":
                from .printer import err_console, escape

                err_console.print(f"[yellow]{escape(event['message'])}[/yellow]")
            elif kind == "outcome":
                return _finish(event, quiet)
            elif not quiet:
                from .printer import print_event

                print_event(event)
    except KeyboardInterrupt:
        typer.echo(f"\nstopped watching; run {run_id} goes on in the worker (`meshclaw runs show {run_id}`)", err=True)
        return 130
    finally:
        sock.close()
    raise CliError(f"the worker stopped before run {run_id} ended; a worker started again finishes it")


def _login() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None


def _finish(outcome: dict[str, Any], quiet: bool) -> int:
    from .printer import echo

    if quiet and outcome.get("output"):
        echo(outcome["output"])
    for line in outcome.get("summary") or []:
        echo(line)
    echo(f"run {outcome['run_id']} (in the worker)", err=True)
    if outcome["status"] != "succeeded":
        if quiet and outcome.get("error"):
            echo(outcome["error"], err=True)
        return 1
    return 0
