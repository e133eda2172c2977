"""The platform's own overhead per tool call, and CLI cold-start times.

Overhead: the same scripted agent (one model turn per tool call) is run by plain pydantic-ai and
by MeshClaw's runtime (guard + audit + durable step + usage record + DBOS model step) in the same
process; the difference per tool call is MeshClaw's cost. Cold start: fresh processes.

    .venv/bin/python benchmarks/bench_overhead.py [--calls 40] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def config_text(calls: int, store: str = "notes") -> str:
    turns = "\n".join(f"      - {{tool: notes.add, args: {{text: 'note {i}'}}}}" for i in range(calls))
    return f"""
users: [{{id: alice, name: Alice, email: alice@example.com}}]
models:
  script:
    kind: scripted
    turns:
{turns}
      - {{text: done}}
agents:
  - name: bench
    owner: alice
    instructions: Save notes.
    model: script
    autonomy: auto
    limits: {{tool_calls_per_run: {calls + 5}, model_requests_per_run: {calls + 5}}}
    toolsets:
      notes: {{grants: [notes.add]}}
"""


async def plain_run(calls: int) -> float:
    """Baseline: plain pydantic-ai, same scripted model, a tool that does the same store write."""
    from pydantic_ai import Agent
    from pydantic_ai.toolsets import FunctionToolset

    from meshclaw.runtime.models.scripted import scripted_model
    from meshclaw.store.facade import Store

    store = Store(Path(tempfile.mkdtemp()))
    counter = iter(range(10**9))
    toolset = FunctionToolset()

    @toolset.tool_plain(name="notes_add")
    def notes_add(text: str) -> dict:
        note_id, _ = store.notes.add(f"k{next(counter)}", owner="alice", agent="bench", run_id="r", text=text)
        return {"note_id": note_id, "saved": True}

    turns = [{"tool": "notes.add", "args": {"text": f"note {i}"}} for i in range(calls)] + [{"text": "done"}]
    agent = Agent(scripted_model(turns), toolsets=[toolset])
    from pydantic_ai.usage import UsageLimits

    started = time.perf_counter()
    await agent.run("go", usage_limits=UsageLimits(request_limit=calls + 5))
    return time.perf_counter() - started


def meshclaw_runs(calls: int, runs: int) -> list[float]:
    from tests.runtime_support import runtime

    home = Path(tempfile.mkdtemp())
    times = []
    with runtime(home, config_text(calls)) as rt:
        async def one() -> float:
            started = time.perf_counter()
            run_id = await rt.start("bench", "save the notes")
            outcome = await rt.wait(run_id)
            assert outcome.status == "succeeded", outcome.error
            return time.perf_counter() - started

        for _ in range(runs + 1):
            times.append(asyncio.run(one()))
        assert len(rt.store.notes.list("alice", limit=10**6)) == calls * (runs + 1)
    return times[1:]  # the first run builds and caches the agent


def cold(cmd: list[str], env: dict, n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True, cwd=ROOT)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    plain = [asyncio.run(plain_run(args.calls)) for _ in range(args.runs + 1)][1:]
    mesh = meshclaw_runs(args.calls, args.runs)
    per_call = sorted((m - statistics.median(plain)) / args.calls * 1000 for m in mesh)
    print(f"tool calls per run: {args.calls}, runs: {args.runs} (SQLite, WAL)")
    print(f"plain pydantic-ai run:  median {statistics.median(plain) * 1000:8.1f} ms  ({statistics.median(plain) / args.calls * 1000:.2f} ms per call)")
    print(f"MeshClaw run:           median {statistics.median(mesh) * 1000:8.1f} ms  ({statistics.median(mesh) / args.calls * 1000:.2f} ms per call)")
    print(f"MeshClaw overhead per tool call (guard + audit + durable steps + usage): "
          f"p50 {statistics.median(per_call):.2f} ms, p90 {per_call[int(len(per_call) * 0.9) - 1]:.2f} ms "
          f"(target p50 < 2 ms); ratio to plain {statistics.median(mesh) / statistics.median(plain):.1f}x")

    home = Path(tempfile.mkdtemp())
    env = dict(os.environ, MESHCLAW_HOME=str(home), PYTHONPATH=str(ROOT / "src"))
    exe = [sys.executable, "-m", "meshclaw.surfaces.cli.main"]
    subprocess.run([*exe, "init"], env=env, check=True, capture_output=True)  # the starter, mapped to this login
    subprocess.run([*exe, "promote", "scripted-assistant"], env=env, check=True, capture_output=True)
    python = cold([sys.executable, "-c", "pass"], env, 5)
    help_time = cold([*exe, "--help"], env, 5)
    run_time = cold([*exe, "run", "scripted-assistant", "remember the report", "--quiet", "--here"], env, 3)
    print(f"cold start: python itself {python:.2f} s; `meshclaw --help` {help_time:.2f} s (target < 0.8 s); "
          f"one-step `meshclaw run` (scripted model) {run_time:.2f} s in its own process (target < 0.8 s)")
    worker = subprocess.Popen([*exe, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=ROOT)
    try:
        assert worker.stdout is not None and "worker ready" in worker.stdout.readline()
        handed = cold([*exe, "run", "scripted-assistant", "remember the report", "--quiet"], env, 5)
    finally:
        worker.terminate()
        worker.wait(30)
    print(f"one-step `meshclaw run` handed to a running `meshclaw worker`: {handed:.2f} s "
          f"({run_time / handed:.1f}x faster than in its own process)")


if __name__ == "__main__":
    main()
