"""Text from runs (tasks, tool results, untrusted mail) is printed as it is: brackets in it are
never taken as console markup, which could hide or restyle what a person is shown, or crash the CLI."""

from __future__ import annotations

import pytest

from tests.builders import Org, call, say
from tests.conftest import write_config
from tests.waiting import wait_for_async

TRICKY = "[white on white]approve me[/white on white] [/bold] [rehearsal]"

CONFIG = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("notes.add", text=TRICKY), say(TRICKY))
          .agent("keeper", instructions="Keep notes.", model="script", autonomy="auto", toolsets={"notes": ["notes.add"]})
          .local_user("alice"))


def test_live_steps_print_brackets_literally():
    from meshclaw.surfaces.cli.printer import console, print_event

    with console.capture() as captured:
        print_event({"kind": "tool", "tool": "email.read", "args": {"uid": TRICKY}, "verdict": "allow",
                     "reason": TRICKY, "result": TRICKY})
        print_event({"kind": "run", "status": "succeeded", "output": TRICKY})
    assert captured.get().count("[white on white]approve me[/white on white] [/bold]") == 4  # args, reason, result, output


@pytest.mark.slow
def test_runs_show_and_audit_show_print_brackets_literally(home, cli):
    write_config(home, CONFIG)
    cli("promote", "keeper", check=True)
    live = cli("run", "keeper", TRICKY, check=True)
    assert f"keeper: {TRICKY}" in live.stdout and f"\n{TRICKY}\n" in live.stdout
    import json

    run_id = json.loads(cli("runs", "--json", check=True).stdout)[0]["id"]
    shown = cli("runs", "show", run_id, env={"COLUMNS": "300"}, check=True).stdout
    assert f"task: {TRICKY}" in shown and f"output: {TRICKY}" in shown


@pytest.mark.slow
def test_an_approval_shows_its_arguments_literally(home, cli):
    """Markup in an argument must not hide part of what a person is asked to approve."""
    import asyncio

    from tests.runtime_support import runtime

    asking = CONFIG.agent("keeper", autonomy="ask")
    write_config(home, asking)
    with runtime(home, asking) as rt:
        async def go() -> str:
            run_id = await rt.start("keeper", "note it")
            await wait_for_async(rt.store.approvals.pending, 20, what="the approval request")
            shown = (await asyncio.to_thread(cli, "approvals", env={"COLUMNS": "300"}, check=True)).stdout
            await asyncio.to_thread(cli, "stop", "keeper", check=True)
            await rt.wait(run_id)
            return shown

        shown = asyncio.run(go())
    assert f'text = "{TRICKY}"' in shown


def test_emoji_codes_in_text_are_printed_as_written():
    from meshclaw.surfaces.cli.printer import SafeConsole, console

    text = "deploy :warning: failed :x: for team:m: today"
    with console.capture() as captured:
        console.print(text)
    assert captured.get().strip() == text
    demo = SafeConsole(highlight=False)  # the demo's own console
    with demo.capture() as again:
        demo.print(text)
    assert again.get().strip() == text
