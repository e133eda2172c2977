"""Record what the bundled model really writes when it calls tools: the corpus for bench_textcalls.py.

Starts the bundled model (Qwen2.5-Coder-1.5B behind xllamacpp), sends each prompt below with a
fixed tool list through pydantic-ai's OpenAI chat model *without* MeshClaw's text-call parsing,
and stores the raw text of each answer in tests/data/textcalls/recorded.jsonl. Some prompts are
sent after a tool result (the second turn, where the right answer is plain text). Each prompt is
sent with the product's sampling (temperature 0.2, fixed seed) and with warmer samplings, so the
corpus shows the forms the model writes, not only its most likely one.

Outputs are appended as they arrive, so an interrupted recording resumes where it stopped. What
each output should parse to (``expect``) is written by a person after reading it; new outputs
carry ``"expect": null`` until then (bench_textcalls.py counts and skips them).

    MESHCLAW_MODEL_DIR=~/.cache/meshclaw/models .venv/bin/python benchmarks/record_textcalls.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CORPUS = ROOT / "tests" / "data" / "textcalls" / "recorded.jsonl"


def _tool(name: str, description: str, properties: dict, required: list[str]):
    from pydantic_ai.tools import ToolDefinition

    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return ToolDefinition(name=name, description=description, parameters_json_schema=schema)


def tools() -> list:
    s, i = {"type": "string"}, {"type": "integer"}
    return [
        _tool("current_time", "Return the current date and time (UTC).", {}, []),
        _tool("add_note", "Save a note with the given text.", {"text": s}, ["text"]),
        _tool("save_draft", "Save an email draft for the user to review.",
              {"to": s, "subject": s, "body": s}, ["to", "subject", "body"]),
        _tool("search_email", "Search the mailbox; returns matching messages.", {"query": s, "limit": i}, ["query"]),
        _tool("create_event", "Add an event to the calendar. Times are ISO 8601.",
              {"title": s, "start": s, "end": s, "location": s}, ["title", "start", "end"]),
        _tool("get_weather", "Current weather for a city.", {"city": s}, ["city"]),
    ]


FIRST_TURN = [
    "What time is it now?",
    "Save a note saying 'buy milk'.",
    "Please add a note: call Bob at 5pm",
    "Draft an email to sam@example.com with subject Lunch saying:\nHi Sam,\nFriday works.\nBest",
    "Write a draft to ana@example.org, subject 'Re: budget', body with two short paragraphs thanking her "
    "for the numbers and asking for the Q3 file.",
    "Save a note with this exact text: She said \"it's fine\" and left.",
    "Draft an email to team@example.com titled Offsite. In the body list three items on separate lines: "
    "train tickets, hotel, dinner.",
    "Find emails from the bank, at most 5.",
    "Search my mail for 'invoice 2026' and show me 3 results.",
    "Put 'Dentist' in my calendar on 2026-12-04 from 09:00 to 09:30 at Main St 4.",
    "Create an event 'Team sync' tomorrow 2026-11-30 10:00-11:00 UTC.",
    "What's the weather in Berlin?",
    "Save two notes: 'water plants' and 'pay rent'.",
    "What time is it, and what's the weather in Paris?",
    "Add a note: TODO\n- fix the roof\n- call the plumber",
    "Save a note containing this code: def f(x):\n    return {'a': x}",
    "Draft an email to li@example.com, subject Café, body: Merci pour le café ☕ — à lundi!",
    "Save a note: path C:\\Users\\sam\\notes.txt",
    "Hi! How are you today?",
    "Explain in one sentence what JSON is.",
    "Give me an example JSON object for a user with a name and an age.",
    "Note down: meeting moved to 3pm; tell Jo.",
    "Search emails about 'contract renewal' and then save a note 'check contract'.",
    "Draft a reply to bob@example.com, subject 'Re: Friday', saying\tyes (tab-separated: yes\tno).",
]

# (prompt, tool called, its arguments, what the tool returned): the model should now answer in text.
AFTER_RESULT = [
    ("What time is it now?", "current_time", {}, "2026-11-23T14:05:00+00:00"),
    ("Save a note saying 'buy milk'.", "add_note", {"text": "buy milk"}, "saved note #1"),
    ("What's the weather in Berlin?", "get_weather", {"city": "Berlin"}, "4°C, light rain, wind 12 km/h"),
    ("Find emails from the bank, at most 5.", "search_email", {"query": "from:bank", "limit": 5},
     '[{"from": "service@bank.example", "subject": "Your statement"}, {"from": "alerts@bank.example", '
     '"subject": "New login"}]'),
    ("Draft an email to sam@example.com with subject Lunch saying hi.", "save_draft",
     {"to": "sam@example.com", "subject": "Lunch", "body": "Hi"}, "draft saved (id 17)"),
    ("Put 'Dentist' in my calendar on 2026-12-04 09:00-09:30.", "create_event",
     {"title": "Dentist", "start": "2026-12-04T09:00", "end": "2026-12-04T09:30"}, "event created"),
]

# The product's setting first, then warmer ones that show the forms the model writes less often.
SAMPLINGS = {"product": (0.2, 1234), "warm": (0.8, 7), "hot": (1.2, 21)}
WARM_PROMPTS = 16  # the warmer samplings are spent on the first prompts only: each output takes seconds


def jobs(instructions: str, nudge) -> list[tuple]:
    from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart, UserPromptPart

    found = []
    for temperature, seed in SAMPLINGS.values():
        warm = (temperature, seed) != SAMPLINGS["product"]
        for prompt in FIRST_TURN[:WARM_PROMPTS] if warm else FIRST_TURN:
            found.append(("first", prompt, temperature, seed,
                          [ModelRequest(parts=[UserPromptPart(content=prompt)], instructions=instructions)]))
        for prompt, tool, args, result in [] if warm else AFTER_RESULT:
            history = [
                ModelRequest(parts=[UserPromptPart(content=prompt)], instructions=instructions),
                ModelResponse(parts=[ToolCallPart(tool_name=tool, args=args, tool_call_id="call_1")]),
                ModelRequest(parts=[ToolReturnPart(tool_name=tool, content=result, tool_call_id="call_1")],
                             instructions=instructions),
            ]
            found.append(("after_result", prompt, temperature, seed, nudge(history)))
    return found


async def record(model, params, instructions: str, out: Path, done: dict, max_tokens: int, sampling: str) -> None:
    """Send each job not yet in ``done`` and append its record to ``out`` as soon as it arrives."""
    from pydantic_ai.messages import TextPart, ToolCallPart
    from pydantic_ai.settings import ModelSettings

    await model._ready()
    inner = model.wrapped  # the OpenAI chat model: its answer before any text-call parsing
    names = [t.name for t in params.function_tools]
    todo = jobs(instructions, model._outgoing)
    async with model:
        for number, (turn, prompt, temperature, seed, messages) in enumerate(todo, start=1):
            if (prompt, turn, temperature, seed) in done:
                continue
            if sampling != "all" and (temperature, seed) != SAMPLINGS[sampling]:
                continue
            settings = ModelSettings(temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=900)
            started = time.perf_counter()
            response = await inner.request(messages, settings, params)
            raw = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            real_calls = [p.tool_name for p in response.parts if isinstance(p, ToolCallPart)]
            print(f"{number:3}/{len(todo)} {time.perf_counter() - started:5.1f} s  {turn:<12} {raw[:70]!r}", flush=True)
            item = {"id": f"bundled-{number:03}", "turn": turn, "prompt": prompt, "temperature": temperature,
                    "seed": seed, "tools": names, "raw": raw, "native_tool_calls": real_calls,
                    "finish_reason": response.finish_reason, "expect": None}
            with out.open("a") as f:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CORPUS)
    parser.add_argument("--fresh", action="store_true", help="record every output again")
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads; on a shared, busy machine one thread avoids spinning on busy cores")
    parser.add_argument("--sampling", choices=["all", *SAMPLINGS], default="all",
                        help="record one sampling only (several processes can share the work)")
    parser.add_argument("--max-tokens", type=int, default=200, help="a longer answer is recorded cut off, as it happens")
    args = parser.parse_args()

    from pydantic_ai.models import ModelRequestParameters

    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models import bundled
    from meshclaw.runtime.models.bundled_install import model_path
    from meshclaw.surfaces.cli.home import meshclaw_home

    home = meshclaw_home()
    if not model_path(home).is_file():
        sys.exit(f"bundled model not installed in {home}: set MESHCLAW_MODEL_DIR or run `meshclaw model install`")
    model = bundled.bundled_model(BundledModel(kind="bundled", timeout=900, threads=args.threads), home)
    instructions = f"You are a helpful assistant. {bundled.BUNDLED_MODEL_HINT}"
    params = ModelRequestParameters(function_tools=tools())
    # Outputs already recorded with the same prompt and sampling are kept (with their expected
    # parse) unless --fresh: the fixed seed makes a rerun give the same text on the same build.
    done = {}
    if args.out.is_file() and not args.fresh:
        for line in args.out.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                done[(item["prompt"], item["turn"], item["temperature"], item["seed"])] = item
    elif args.out.is_file():
        args.out.unlink()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(model, params, instructions, args.out, done, args.max_tokens, args.sampling))
    bundled.shutdown_bundled_server()
    items = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    missing = sum(item["expect"] is None for item in items)
    print(f"{args.out}: {len(items)} outputs, {missing} without an expected parse yet")


if __name__ == "__main__":
    main()
