"""Running agents in-process for tests: a Runtime over a private data dir."""

from __future__ import annotations

import asyncio
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from meshclaw.connectors.registry import resolve
from meshclaw.domain.config_file import parse_config
from meshclaw.domain.secrets import Secrets
from meshclaw.runtime.engine import Runtime
from meshclaw.store.facade import Store
from tests.builders import Org


@contextmanager
def runtime(home: Path, config_text: str | Org, store_url: str | None = None, *, promote: bool = True) -> Iterator[Runtime]:
    """A launched Runtime over ``home`` for a configuration given as YAML text or a ``tests.builders.Org``.
    ``promote``: its agents act for real, as if their owners had promoted them (``Runtime.start``
    rehearses agents that are not promoted)."""
    text = config_text if isinstance(config_text, str) else config_text.yaml()
    config = parse_config(textwrap.dedent(text), home / "meshclaw.yaml")
    store = Store(home, store_url)
    if promote:
        for agent in config.agents:
            store.agents.set_promoted(agent.name, True, "test")
    rt = Runtime(config, home, store, Secrets(home / "secrets.env"), resolve)
    rt.launch()
    try:
        yield rt
    finally:
        rt.shutdown()


def run(rt: Runtime, agent: str, task: str, **kw):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        events: list[dict] = []
        run_id = await rt.start(agent, task, listeners=[lambda e: events.append(e.as_dict())], **kw)
        outcome = await rt.wait(run_id)
        return outcome, events

    return asyncio.run(go())
