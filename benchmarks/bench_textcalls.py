"""Parse rate of text-written tool calls: the recorded bundled-model corpus and the public failure forms.

Reads tests/data/textcalls/recorded.jsonl (real outputs of the bundled model, recorded by
benchmarks/record_textcalls.py) and tests/data/textcalls/public.jsonl (the failure forms public bug
reports show for small models: raw control characters, single quotes, trailing commas, fences,
two calls in one block, the same call twice, a call followed by prose, cut-off calls). An output
counts as parsed when the parser's result is exactly what the corpus expects: the same calls with
the same arguments, unreadable calls flagged for a retry, duplicates dropped, plain text left
alone. The parser of an older commit (``--old-ref``, read with ``git show``) is measured in the
same run, for a before/after figure; it has no notion of unreadable calls or duplicates.

    .venv/bin/python benchmarks/bench_textcalls.py [--old-ref 0a909d6] [--show-failures]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = ROOT / "tests" / "data" / "textcalls"
PARSER = "src/meshclaw/runtime/models/textcalls.py"


def load(name: str) -> list[dict]:
    path = DATA / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def new_result(item: dict) -> dict:
    from meshclaw.runtime.models.textcalls import read_text_tool_calls

    found = read_text_tool_calls(item["raw"], item["tools"], truncated=item.get("finish_reason") == "length")
    return {"calls": [[c.name, c.args] for c in found.calls if c.problem is None],
            "unreadable": sum(c.problem is not None for c in found.calls), "duplicates": len(found.duplicates)}


def old_parser(ref: str):
    """The module at ``ref`` (a commit), or None when git or the commit is not there."""
    try:
        source = subprocess.run(["git", "show", f"{ref}:{PARSER}"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp())
    (folder / "old_textcalls.py").write_text(source)
    spec = importlib.util.spec_from_file_location("old_textcalls", folder / "old_textcalls.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_textcalls"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def old_result(module, item: dict) -> dict:
    calls, _ = module.parse_text_tool_calls(item["raw"], item["tools"])
    return {"calls": [[c.name, c.args] for c in calls], "unreadable": 0, "duplicates": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-ref", default="0a909d6", help="commit whose parser is the 'before' figure")
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    old = old_parser(args.old_ref)
    if old is None:
        print(f"(parser at {args.old_ref} not available: no before figure)")
    for name in ("recorded.jsonl", "public.jsonl"):
        items = load(name)
        labelled = [item for item in items if item.get("expect") is not None]
        calls = [item for item in labelled if item["expect"]["calls"] or item["expect"]["unreadable"]]
        new_ok = [item for item in labelled if new_result(item) == item["expect"]]
        line = (f"{name:<15} {len(labelled):3} outputs ({len(calls)} with calls"
                + (f", {len(items) - len(labelled)} unlabelled" if len(items) > len(labelled) else "") + "): "
                + f"parsed {len(new_ok)}/{len(labelled)} = {100 * len(new_ok) / max(len(labelled), 1):.1f}%")
        if old is not None:
            old_ok = [item for item in labelled if old_result(old, item) == item["expect"]]
            line += f"  (before: {len(old_ok)}/{len(labelled)} = {100 * len(old_ok) / max(len(labelled), 1):.1f}%)"
        print(line)
        if args.show_failures:
            for item in labelled:
                if item not in new_ok:
                    print(f"  {item['id']}: expected {item['expect']}, got {new_result(item)}\n    {item['raw']!r}")


if __name__ == "__main__":
    main()
