"""Waiting for something to happen by polling it, instead of sleeping a fixed time and hoping."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "the condition") -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy; return that.

    Raises AssertionError naming ``what`` after ``timeout`` seconds. An exception from ``predicate``
    (an assertion that a watched process is still alive, say) ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


async def wait_for_async(predicate: Callable[[], T | Awaitable[T]], timeout: float = 30.0, interval: float = 0.05,
                         what: str = "the condition") -> T:
    """``wait_for`` inside an event loop: ``predicate`` may be a plain function or a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(interval)
