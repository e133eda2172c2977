"""The bundled local model: load time, first and warm agent-turn latency, tokens per second.

Needs the model installed (``meshclaw model install``) in $MESHCLAW_HOME. Runs a pydantic-ai agent
with two tools through MeshClaw's bundled model: the first run on a fresh server, then warm runs
that reuse the cached prompt prefix. Tokens/s come from llama.cpp's own timings on a raw request.
The machine's load average is printed too: on a shared 2-core machine it explains outliers.

    MESHCLAW_HOME=/work/.meshclaw-home .venv/bin/python benchmarks/bench_bundled_model.py [--warm-runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PROMPTS = [
    "What time is it now?",
    "Save a note saying 'buy milk'.",
    "Please add a note: call Bob at 5pm",
    "Save a note saying 'dentist on Friday'.",
]


def timed_model(inner):
    """Wrap a model to record how long each model request takes (tool-call turn vs answer turn)."""
    from pydantic_ai.models.wrapper import WrapperModel

    class Timed(WrapperModel):
        durations: list[float] = []

        async def request(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return await super().request(*args, **kwargs)
            finally:
                self.durations.append(time.perf_counter() - started)

    model = Timed(inner)
    model.durations = []
    return model


def current_time() -> str:
    """Return the current date and time (UTC)."""
    return datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc).isoformat()


NOTES: list[str] = []


def add_note(text: str) -> str:
    """Save a note with the given text."""
    NOTES.append(text)
    return f"saved note #{len(NOTES)}"


def build_agent(model):
    """The agent, plus what warm_prefix needs: its instructions and tool definitions."""
    from pydantic_ai import Agent, Tool

    from meshclaw.runtime.models.bundled import BUNDLED_MODEL_HINT

    instructions = f"You are a helpful assistant. {BUNDLED_MODEL_HINT}"
    tools = [Tool(current_time), Tool(add_note)]
    return Agent(model, instructions=instructions, tools=tools), instructions, [t.tool_def for t in tools]


def run_once(agent, model, prompt: str) -> dict:
    model.durations.clear()
    started = time.perf_counter()
    result = agent.run_sync(prompt)
    total = time.perf_counter() - started
    usage = result.usage
    return {
        "total": total,
        "requests": list(model.durations),
        "tool_calls": usage.tool_calls,
        "input": usage.input_tokens,
        "cached": usage.cache_read_tokens,
        "output": usage.output_tokens,
        "answer": result.output.strip().replace("\n", " ")[:70],
    }


def raw_timings(base_url: str, api_key: str) -> dict:
    """One uncached prompt and a longer generation; llama.cpp reports its own per-token timings."""
    stamp = time.time_ns()  # a fresh prompt, so none of it comes from the prefix cache
    body = {
        "model": "bundled",
        "messages": [
            {"role": "system", "content": f"Session {stamp}. You are a helpful assistant."},
            {"role": "user", "content": "Write a Python function that checks whether a string is a palindrome, "
                                        "with a docstring and three doctest examples."},
        ],
        "max_tokens": 200,
        "temperature": 0.2,
    }
    request = urllib.request.Request(
        f"{base_url}/chat/completions", data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=300) as response:
        return json.loads(response.read()).get("timings", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--no-prefix-warm", action="store_true", help="measure the first turn without warm_prefix")
    args = parser.parse_args()

    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models.bundled_install import model_path
    from meshclaw.surfaces.cli.home import meshclaw_home

    home = meshclaw_home()
    if not model_path(home).is_file():
        sys.exit(f"bundled model not installed in {home}: run `meshclaw model install`")
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")

    started = time.perf_counter()
    from meshclaw.runtime.models import bundled

    import_s = time.perf_counter() - started
    cfg = BundledModel(kind="bundled")
    model = timed_model(bundled.bundled_model(cfg, home))  # timing wrapper outside: sees whole requests
    started = time.perf_counter()
    bundled.start_bundled_server(cfg, home)
    start_s = time.perf_counter() - started
    server = bundled._registry["server"]
    agent, instructions, tool_defs = build_agent(model)
    prefix_s = None
    if not args.no_prefix_warm:
        started = time.perf_counter()
        asyncio.run(bundled.warm_prefix(model, instructions=instructions, tools=tool_defs))
        prefix_s = time.perf_counter() - started

    first = run_once(agent, model, PROMPTS[0])
    warm = [run_once(agent, model, PROMPTS[1 + i % (len(PROMPTS) - 1)]) for i in range(args.warm_runs)]
    timings = raw_timings(server.base_url, server.api_key)
    bundled.shutdown_bundled_server()

    print(f"import meshclaw.runtime.models.bundled: {import_s:.2f} s")
    print(f"server load (weights, context):         {server.load_seconds:.2f} s")
    print(f"start incl. warm-up request:            {start_s:.2f} s")
    print("agent prefix warm (warm_prefix):        " + (f"{prefix_s:.2f} s" if prefix_s is not None else "skipped"))
    print()
    print("agent runs (tool call + answer); per-request seconds in brackets:")
    for label, run in [("first", first)] + [(f"warm {i + 1}", r) for i, r in enumerate(warm)]:
        requests = ", ".join(f"{d:.2f}" for d in run["requests"])
        print(f"  {label:<7} {run['total']:6.2f} s [{requests}]  tools={run['tool_calls']} "
              f"tokens in={run['input']} cached={run['cached']} out={run['output']}  -> {run['answer']!r}")
    if warm:
        print(f"  warm median: run {statistics.median(r['total'] for r in warm):.2f} s, "
              f"tool-call turn {statistics.median(r['requests'][0] for r in warm):.2f} s")
    print()
    print(f"prompt processing: {timings.get('prompt_per_second', 0):.1f} tokens/s ({timings.get('prompt_n')} tokens)")
    print(f"generation:        {timings.get('predicted_per_second', 0):.1f} tokens/s ({timings.get('predicted_n')} tokens)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
