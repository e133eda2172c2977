"""Prefix warming: an agent's first model request with and without ``Runtime.warm`` beforehand.

Three agents share tools but not instructions, so each has a prefix of its own. The server is
started (and paged in) by warming a primer agent; then a cold agent runs unwarmed, and a warm
agent is warmed and runs. Printed: the first request's cached share and time, and each run's wall
time, with the ratio. Needs the bundled model (``meshclaw model install``; MESHCLAW_MODEL_DIR).

    MESHCLAW_MODEL_DIR=~/.cache/meshclaw/models .venv/bin/python benchmarks/bench_prefix_warm.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENT = """
  - name: {name}
    owner: alice
    instructions: {instructions}
    model: local
    autonomy: auto
    toolsets:
      notes: {{grants: [notes.add, notes.list]}}
      clock: {{grants: [clock.now]}}
"""
CONFIG = "users: [{id: alice, name: Alice, email: alice@example.com}]\nmodels: {local: {kind: bundled}}\nagents:" + "".join(
    AGENT.format(name=name, instructions=text) for name, text in [
        ("primer", "You answer questions about the calendar of the team."),
        ("cold", "You keep the owner's notes. Save what the owner asks you to save, and list notes when asked."),
        ("warm", "You keep Alice's notes for her. Save what she asks you to save, and list her notes when asked."),
    ])


def main() -> None:
    from meshclaw.runtime.models.bundled_install import model_path
    from tests.runtime_support import run, runtime

    home = Path(tempfile.mkdtemp())
    if not model_path(home).is_file():
        sys.exit(f"the bundled model is not installed at {model_path(home)}: set MESHCLAW_MODEL_DIR or run `meshclaw model install`")
    with runtime(home, CONFIG) as rt:
        started = time.perf_counter()
        asyncio.run(rt.warm("primer"))
        print(f"server start and primer warm: {time.perf_counter() - started:.1f} s")
        rows = {}
        for name in ("cold", "warm"):
            warm_s = 0.0
            if name == "warm":
                started = time.perf_counter()
                asyncio.run(rt.warm(name))
                warm_s = time.perf_counter() - started
            started = time.perf_counter()
            outcome, _ = run(rt, name, "What time is it?")
            wall = time.perf_counter() - started
            assert outcome.status == "succeeded", outcome.error
            first = rt.store.usage.for_run(outcome.run_id)[0]
            rows[name] = (first, wall)
            print(f"{name:>4}: warm-up {warm_s:5.1f} s | first request {first.cache_read_tokens}/{first.input_tokens} "
                  f"prompt tokens cached, {first.seconds:.2f} s | run {wall:.2f} s")
        (cold, cold_wall), (warm, warm_wall) = rows["cold"], rows["warm"]
        print(f"first request {cold.seconds / warm.seconds:.1f}x faster warmed; run {cold_wall / warm_wall:.1f}x faster warmed")


if __name__ == "__main__":
    main()
