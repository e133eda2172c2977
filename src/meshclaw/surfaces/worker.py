"""The worker loop behind ``meshclaw worker``: recover interrupted runs, serve triggers (schedules,
new mail) and runs handed over on the socket, warm triggered agents' prompt prefixes, and keep
taking over runs of dead processes every 5 s until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any, Callable

RECOVER_EVERY = 5.0  # seconds between looks for runs of dead processes

Echo = Callable[[str], None]


async def serve(runtime: Any, home: Path, config_file: Path, store_url: str | None, load_config: Callable[[], Any],
                echo: Echo, echo_err: Echo) -> None:
    """Serve until SIGTERM or SIGINT. ``load_config`` reads the configuration file again (for runs handed
    over after it changed); ``echo``/``echo_err`` print a line for the person watching."""
    from .handoff import serve_handoff
    from .schedules import serve_schedules
    from .triggers import serve_deploy_triggers, serve_email_triggers
    from .chat_control import serve_chat_control
    from .chat_triggers import serve_chat_triggers

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    recovered = await asyncio.to_thread(runtime.recover)
    watchers = await serve_email_triggers(runtime, stop)
    health_watchers = await serve_deploy_triggers(runtime, stop)
    schedules = await serve_schedules(runtime, stop)
    chat_watchers = await serve_chat_triggers(runtime, stop)
    control = await serve_chat_control(runtime, stop)
    from .dreams import serve_dreams

    dreams = await serve_dreams(runtime, stop)  # nightly memory consolidation, in each owner's time zone
    handoff = await serve_handoff(runtime, home, config_file, store_url, config_reloader(runtime.config, config_file,
                                                                                         load_config))
    echo(f"worker ready: recovered {len(recovered)} interrupted run(s), {len(watchers)} inbox watcher(s), "
         f"{len(schedules)} schedule(s), {len(chat_watchers)} chat watcher(s)"
         + (", the chat control channel" if control else "") + "; `meshclaw run` hands runs to this worker")
    if health_watchers:
        echo(f"watching deployments' health for {len(health_watchers)} agent(s)")
    from .long_lived import freeze_startup_objects

    freeze_startup_objects()  # started: later full garbage collections skip what start-up made
    warming = asyncio.create_task(warm_triggered_agents(runtime, echo, echo_err))
    from .run_log import log_runs

    logging_runs = asyncio.create_task(log_runs(runtime.store, echo, stop))
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=RECOVER_EVERY)
        except TimeoutError:
            await asyncio.to_thread(runtime.recover)
    handoff.close()
    from .cli.home import worker_socket

    worker_socket(home).unlink(missing_ok=True)
    warming.cancel()
    await asyncio.gather(warming, logging_runs, *watchers, *health_watchers, *schedules, *chat_watchers, *control,
                         *dreams, return_exceptions=True)


def config_reloader(config: Any, config_file: Path, load_config: Callable[[], Any]) -> Callable[[], Any]:
    """The current configuration for each handed-over run: read again only when the file changed
    (its modification time or size); a broken file raises, and only that request gets the error."""
    seen = {"stamp": _stamp(config_file), "config": config}

    def current() -> Any:
        stamp = _stamp(config_file)
        if stamp != seen["stamp"]:
            seen["config"], seen["stamp"] = load_config(), stamp
        return seen["config"]

    return current


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


async def warm_triggered_agents(runtime: Any, echo: Echo, echo_err: Echo) -> None:
    """Agents that run unattended start from the bundled model's prefix cache (a no-op for other models)."""
    for agent in runtime.config.agents:
        if not agent.triggers or runtime.store.agents.is_stopped(agent.name):
            continue
        started = time.perf_counter()
        try:
            if await runtime.warm(agent.name):
                echo(f"warmed {agent.name}'s prompt prefix in {time.perf_counter() - started:.1f} s")
        except Exception as e:  # noqa: BLE001 - warming only saves time; runs work without it
            echo_err(f"could not warm {agent.name}'s prompt prefix: {e}")
