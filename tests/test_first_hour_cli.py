"""Smaller first-hour items: `runs` at 80 columns and `--since`, the model's configured name in
`runs show`, plain words for where an approval's arguments came from, and the worker's run log."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from meshclaw.surfaces.cli.approvals_cmd import origin_words
from meshclaw.surfaces.run_log import log_runs
from tests.conftest import write_config
from tests.runtime_support import run, runtime
from tests.test_runs import config

LONG = "keeper-with-a-rather-long-agent-name"


def _long_config() -> str:
    return config().yaml().replace("name: keeper", f"name: {LONG}")


def test_runs_table_fits_80_columns_and_keeps_the_id(home, cli):
    write_config(home, _long_config())
    with runtime(home, _long_config()) as rt:
        outcome, _ = run(rt, LONG, "remember to buy milk and then a very long task description that goes on " * 3)
    out = cli("runs", env={"COLUMNS": "80"}, check=True).stdout
    assert all(len(line) <= 80 for line in out.splitlines()), out
    row = next(line for line in out.splitlines() if outcome.run_id[:12] in line)
    assert row.lstrip().startswith(outcome.run_id[:12]) and "succeeded" in row and len(out.splitlines()) == 2


def test_runs_since(home, cli):
    config().write(home)
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "remember milk")
    assert outcome.run_id in cli("runs", "--since", "30m", "--json", check=True).stdout
    assert json.loads(cli("runs", "--since", "2999-01-01", "--json", check=True).stdout) == []
    assert "no runs since 2999-01-01" in cli("runs", "--since", "2999-01-01", check=True).stdout
    bad = cli("runs", "--since", "yesterday")
    assert bad.returncode != 0 and "not a time: 'yesterday'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_runs_show_names_the_configured_model(home, cli):
    config().write(home)
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "remember milk")
    out = cli("runs", "show", outcome.run_id[:12], env={"COLUMNS": "200"}, check=True).stdout
    model = rt.config.agent("keeper").model
    assert f"model: {model} (as configured)" in out and f"  model {model}: " in out


def test_approval_origins_in_plain_words():
    assert origin_words({"value": "x", "source": "model", "trust": "unknown"}) == \
        "not found in anything the run read — the model wrote it"
    assert "outside content (not trusted)" in origin_words({"value": "x", "source": "email", "trust": "untrusted"})
    assert origin_words({"value": "x", "source": "owner", "trust": "trusted"}) == "came from owner (trusted)"


def test_worker_logs_each_run_started_and_finished(home):
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "remember milk")
        lines: list[str] = []
        stop = asyncio.Event()

        async def once() -> None:
            task = asyncio.ensure_future(log_runs(rt.store, lines.append, stop,
                                                  since=datetime.now(timezone.utc) - timedelta(minutes=5), poll=0.05))
            await asyncio.sleep(0.3)
            stop.set()
            await task

        asyncio.run(once())
    assert lines == [f"run started: agent keeper, trigger {outcome_trigger(rt, outcome.run_id)}, run {outcome.run_id}",
                     f"run finished: agent keeper, trigger {outcome_trigger(rt, outcome.run_id)}, run {outcome.run_id}, "
                     "status succeeded"]


def outcome_trigger(rt, run_id: str) -> str:
    return rt.store.runs.get(run_id).trigger


LINKS = """
users:
  - {id: alice, name: Alice}
models:
  m:
    kind: scripted
    turns:
      - {tool: links.find, args: {name: holidays}}
      - {tool: links.find, args: {name: "../etc"}}
      - {text: done}
agents:
  - name: keeper
    owner: alice
    instructions: x
    model: m
    autonomy: auto
    toolsets:
      links:
        module: meshclaw.connectors.links:connector
        settings:
          links: {holidays: "https://intranet.example.com/holidays"}
        grants:
          - tool: links.find
            when:
              name: {matches: "[a-z-]+"}
"""


def test_the_starters_module_example_runs_under_the_guard(home):
    with runtime(home, LINKS) as rt:
        outcome, _ = run(rt, "keeper", "where are the holidays?")
        records = rt.store.audit.records(run_id=outcome.run_id)
    calls = [(r.tool, r.verdict, (r.data or {}).get("result")) for r in records if r.kind == "call"]
    assert calls[0][:2] == ("links.find", "done") and "intranet.example.com/holidays" in str(calls[0][2])
    [denied] = [r for r in records if r.kind == "decision" and r.verdict == "deny"]
    assert "must match '[a-z-]+'" in (denied.reason or "")
