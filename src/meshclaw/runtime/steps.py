"""Running a piece of work as a durable step when inside a durable run, plainly otherwise."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


async def durable_step(name: str, fn: Callable[[], Awaitable[T]]) -> T:
    from dbos import DBOS

    if DBOS.workflow_id is None:
        return await fn()
    return await DBOS.run_step_async({"name": name}, fn)
