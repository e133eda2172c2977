"""Benchmark: message round trip on a local Synapse through the Matrix chat backend.

    .venv/bin/python benchmarks/bench_chat.py [--count 50]

Starts a private Synapse (tests/servers/synapse.py: SQLite, loopback), registers two accounts in
one room, then ``count`` times: account A posts (``MatrixBackend.post``, one PUT with a txn id) and
account B, long-polling ``/sync`` (``MatrixBackend.poll``), sees it. Prints the post→seen time
(p50, p95, max, in ms), the post call alone, and what the test fixture costs: server start and
one registration.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from meshclaw.connectors.chat.matrix import MatrixBackend  # noqa: E402
from tests.servers.synapse import start_synapse  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def round_trips(url: str, a: object, b: object, room: str, count: int) -> tuple[list[float], list[float]]:
    sender = await MatrixBackend.connect(homeserver=url, user_id=a.user_id, access_token=a.access_token)  # type: ignore[attr-defined]
    reader = await MatrixBackend.connect(homeserver=url, user_id=b.user_id, access_token=b.access_token)  # type: ignore[attr-defined]
    try:
        _, cursor = await reader.poll(None)
        trips, posts = [], []
        for i in range(count):
            text = f"ping {i}"
            began = time.perf_counter()
            await sender.post(room, text, idempotency_key=f"bench-{i}-{began}")
            posted = time.perf_counter()
            seen = False
            while not seen:
                events, cursor = await reader.poll(cursor, timeout_s=10)
                seen = any(getattr(e, "text", None) == text for e in events)
            trips.append((time.perf_counter() - began) * 1000)
            posts.append((posted - began) * 1000)
        return trips, posts
    finally:
        await sender.close()
        await reader.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    began = time.perf_counter()
    with start_synapse() as hs:
        started = time.perf_counter() - began
        t = time.perf_counter()
        a = hs.register("sender")
        registered = time.perf_counter() - t
        b = hs.register("reader")
        room = hs.api("POST", "/createRoom", {"name": "bench", "invite": [b.user_id]}, as_user="sender")["room_id"]
        hs.api("POST", f"/join/{room}", {}, as_user="reader")
        trips, posts = asyncio.run(round_trips(hs.url, a, b, room, args.count))
    print(f"synapse: ready in {started:.2f} s, one registration {registered * 1000:.0f} ms")
    print(f"post -> seen by the other account ({args.count} messages): p50 {statistics.median(trips):.1f} ms, "
          f"p95 {pct(trips, 95):.1f} ms, max {max(trips):.1f} ms")
    print(f"post call alone: p50 {statistics.median(posts):.1f} ms, p95 {pct(posts, 95):.1f} ms")


if __name__ == "__main__":
    main()
