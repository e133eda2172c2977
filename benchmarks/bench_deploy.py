"""Benchmark: from a failing health check to the triggered agent's first step, on real backends.

    .venv/bin/python benchmarks/bench_deploy.py [--rounds 5] [--interval 0.5] [--backend docker|supervisor|both]

Starts a private Podman API service and/or supervisord (tests/servers/), deploys a healthy version
of a service, and starts the deploy health watcher with an agent (scripted model) triggered by
``deploy.health_changed``. Each round kills the service's main process, waits for the triggered
run's first step, then deploys again and waits for the ``recovered`` run. Prints per backend
(median and max over the rounds, milliseconds):

* detect:  process killed → the watcher's check that saw it failing (bounded by --interval);
* start:   that check → the run created (``Runtime.start`` returned);
* step:    that check → the run's first step done (its first model request, a durable step);
* tool:    that check → the agent's first tool call done (``deploy.health`` on the backend);

plus the fixtures' start-up times (the CI time they add).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from meshclaw.connectors.deploy import DeploySettings  # noqa: E402
from meshclaw.connectors.deploy.tools import open_backend  # noqa: E402
from meshclaw.domain.runs import ModelEvent, ToolEvent  # noqa: E402
from meshclaw.surfaces.triggers import serve_deploy_triggers  # noqa: E402
from tests.builders import Org, call, say  # noqa: E402
from tests.runtime_support import runtime  # noqa: E402


def org(settings: dict[str, Any], service: str) -> Org:
    return (Org().organisation().user("alice", email="alice@example.com")
            .scripted("script", call("deploy.health", service=service), say("looked"))
            .agent("oncall", instructions="Look after the services.", model="script", autonomy="auto",
                   triggers=[{"event": "deploy.health_changed", "task": "A service's health changed: look into it."}],
                   toolsets={"deploy": {"settings": settings, "grants": ["deploy.health"]}}))


async def rounds(rt: Any, backend: Any, service: str, kill: Any, n: int, interval: float) -> list[dict[str, float]]:
    marks: dict[str, dict[str, float]] = {}

    def listeners_for(change: Any) -> list:
        mark = marks.setdefault(change.change, {})
        mark.update(check=change.monotonic_at)

        def listen(event: Any) -> None:
            now = time.monotonic()
            if isinstance(event, ModelEvent):
                mark.setdefault("step", now)
            if isinstance(event, ToolEvent):
                mark.setdefault("tool", now)
        return [listen]

    stop, ready = asyncio.Event(), asyncio.Event()
    original = rt.start

    async def timed_start(*a: Any, **kw: Any) -> str:
        run_id = await original(*a, **kw)
        for mark in marks.values():
            mark.setdefault("start", time.monotonic())
        return run_id

    rt.start = timed_start
    watchers = await serve_deploy_triggers(rt, stop, interval=interval, ready=ready, listeners_for=listeners_for)
    await asyncio.wait_for(ready.wait(), 30)
    out = []
    for i in range(n):
        marks.clear()
        killed = time.monotonic()
        kill()
        while "tool" not in marks.get("failing", {}):
            await asyncio.sleep(0.005)
        m = marks["failing"]
        out.append({"detect": m["check"] - killed, "start": m["start"] - m["check"], "step": m["step"] - m["check"],
                    "tool": m["tool"] - m["check"]})
        await asyncio.to_thread(backend.deploy, service, "1.0", f"bench-restore-{i}", "deploy")
        while "tool" not in marks.get("recovered", {}):
            await asyncio.sleep(0.005)
    stop.set()
    await asyncio.gather(*watchers)
    return out


def report(name: str, results: list[dict[str, float]]) -> None:
    print(f"{name}: {len(results)} rounds, milliseconds (median / max)")
    for key, words in (("detect", "kill → failing check"), ("start", "failing check → run created"),
                       ("step", "failing check → first step (model request)"),
                       ("tool", "failing check → first tool call done")):
        values = [r[key] * 1000 for r in results]
        print(f"  {words:45s} {statistics.median(values):8.1f} / {max(values):8.1f}")


def bench(kind: str, n: int, interval: float) -> None:
    if kind == "docker":
        from tests.servers.podman import start_podman

        server = start_podman()
        print(f"podman: images imported in {server.images_in:.2f} s, API service ready in {server.started_in:.2f} s")
    else:
        from tests.servers.supervisord import start_supervisord

        server = start_supervisord()
        print(f"supervisord: ready in {server.started_in:.2f} s")
    home = Path(tempfile.mkdtemp(prefix="meshclaw-bench-deploy-"))
    os.environ["MESHCLAW_HOME"] = str(home)
    try:
        service, spec = server.new_service()
        settings = server.settings({service: spec})
        (home / "secrets.env").write_text(f"deploy_pw={getattr(server, 'password', '')}\n")
        backend = open_backend(DeploySettings.model_validate(settings), getattr(server, "password", None))
        backend.deploy(service, "1.0", "bench-setup", "deploy")

        def kill() -> None:
            pid = backend.main_pid(service) if kind == "docker" else server.pid(service)
            os.kill(pid, signal.SIGKILL)

        with runtime(home, org(settings, service)) as rt:
            results = asyncio.run(rounds(rt, backend, service, kill, n, interval))
        report(f"{kind} (watch interval {interval:g} s)", results)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--backend", choices=["docker", "supervisor", "both"], default="both")
    args = parser.parse_args()
    for kind in (["docker", "supervisor"] if args.backend == "both" else [args.backend]):
        bench(kind, args.rounds, args.interval)


if __name__ == "__main__":
    main()
