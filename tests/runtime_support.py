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


@contextmanager
def runtime(home: Path, config_text: str, store_url: str | None = None) -> Iterator[Runtime]:
    config = parse_config(textwrap.dedent(config_text), home / "meshclaw.yaml")
    store = Store(home, store_url)
    rt = Runtime(config, home, store, Secrets(home / "secrets.env"), resolve)
    rt.launch()
    try:
        yield rt
    finally:
        rt.shutdown()


def run(rt: Runtime, agent: str, task: str, **kw):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        events: list[dict] = []
        run_id = await rt.start(agent, task, listeners=[events.append], **kw)
        outcome = await rt.wait(run_id)
        return outcome, events

    return asyncio.run(go())
