"""``meshclaw demo --tour``: the policy layer at work, offline, on the starter configuration.

Three steps, each followed by one line saying what the person just saw: a rehearsal (the new
agent's first run: its writes are captured, not executed), a denial (a call outside its grant's
condition, refused with the reason) and an approval (a call that waits until the demo user approves
it through ``meshclaw.operations``, then runs once). Nothing is promoted silently: the only agent
the demo promotes is its own scripted ``demo`` agent, and it says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

from meshclaw.domain.errors import NotFound

from .home import config_path, meshclaw_home

DEMO_TASK = "Remember that the quarterly report is due on Friday."
POLICY_AGENT = "demo"  # the starter's scripted agent whose turns meet a condition and an approval
POLICY_TASK = "Note the review meeting for Friday at 10:00."


def tour(scripted: bool, task: str = DEMO_TASK) -> None:
    """Set up a starter organisation and show a rehearsal, a denial and an approval, end to end."""
    from .config_cmd import starter_text
    from .printer import SafeConsole

    console = SafeConsole(highlight=False)  # a model's answer is printed: no control character reaches the terminal
    home, path = meshclaw_home(), config_path()
    if not path.exists():
        from meshclaw.domain.config_file import write_config_text

        write_config_text(path, starter_text())  # 0600, its folder 0700: it holds user data
        console.print(f"1. wrote a starter configuration to {path}")
    else:
        console.print(f"1. using the configuration at {path}")
    agent = "scripted-assistant" if scripted else "assistant"
    if not scripted:
        from meshclaw.runtime.models.bundled_install import install_bundled_model

        console.print(f"2. bundled model ready: {install_bundled_model(home)}")
    else:
        console.print("2. scripted model: no model download needed")
    _policy_steps(console, agent, task)  # a failure ends the tour here: no next steps after it
    console.print("\nnext: `meshclaw runs`, `meshclaw runs show ID`, `meshclaw grants show demo`, "
                  f"`meshclaw promote {agent}` to let {agent} act, `meshclaw audit verify`")


def _policy_steps(console: Any, agent: str, task: str) -> None:
    from meshclaw.operations import control
    from meshclaw.operations.context import Context
    from meshclaw.operations.runs import finish, start_run

    from .app_context import load, local_actor, open_runtime
    from .printer import escape

    config = load()
    for name in (agent, POLICY_AGENT):
        if name not in {a.name for a in config.agents}:
            raise NotFound(f"the configuration at {config_path()} has no agent {name!r}; move it aside to get the starter one")
    actor = local_actor(config)
    runtime = open_runtime(config)
    ctx = Context.of_runtime(runtime)

    async def go() -> None:
        promoted = ctx.store.agents.is_promoted(agent)
        console.print(f"3. running {agent} on {task!r}" + ("" if promoted else f" ({agent} is new and not promoted)"))
        started = await start_run(runtime, actor, agent, task, rehearse=promoted)
        done = await finish(runtime, started)
        for line in done.summary:
            console.print(f"   {escape(line)}")
        console.print(f"   [bold]you just saw a rehearsal[/bold]: run {done.run_id[:12]} {done.status}; "
                      f"its writes were captured and shown, none carried out")

        if not ctx.store.agents.is_promoted(POLICY_AGENT):
            control.promote(ctx, actor, POLICY_AGENT)
            console.print(f"4. promoted the scripted agent {POLICY_AGENT!r} as {actor.user_id}, so its calls are real")
        else:
            console.print(f"4. the scripted agent {POLICY_AGENT!r} is promoted: its calls are real")
        started = await start_run(runtime, actor, POLICY_AGENT, POLICY_TASK)
        waiting = asyncio.ensure_future(finish(runtime, started))
        approved, approval_lines = await _approve_when_asked(ctx, actor, started.run_id, waiting)
        done = await waiting
        denials = [r for r in ctx.store.audit.records(run_id=done.run_id) if r.kind == "decision" and r.verdict == "deny"]
        for r in denials:
            console.print(f"   refused {r.tool} {escape(str((r.data or {}).get('args')))}: {escape(r.reason or '')}")
        console.print(f"   [bold]you just saw a denial[/bold]: {len(denials)} call(s) outside the grant's condition "
                      "were refused with the reason, and the run went on without them")
        for line in approval_lines:
            console.print(f"   {escape(line)}")
        calls = [r for r in ctx.store.audit.records(run_id=done.run_id)
                 if r.kind == "call" and r.tool == (approved or "") and r.verdict == "done"]
        console.print(f"   [bold]you just saw an approval[/bold]: {approved or 'no call'} waited for {actor.user_id}, "
                      f"was approved and ran {len(calls)} time(s); run {done.run_id[:12]} {done.status}")
        if done.output:
            console.print(f"   answer: {escape(done.output)}")

    try:
        asyncio.run(go())
    finally:
        runtime.shutdown()


async def _approve_when_asked(ctx: Any, actor: Any, run_id: str, waiting: Any) -> tuple[str | None, list[str]]:
    """Approve the run's first pending request as ``actor`` once it exists: (the tool approved, or None
    if the run ended without asking; lines saying what happened, printed after the run's denials)."""
    from meshclaw.operations.approvals import answer, list_pending

    while not waiting.done():
        pending = [p for p in list_pending(ctx, actor) if p.run_id == run_id]
        if pending:
            p = pending[0]
            answer(ctx, actor, p.id, "approved", note="approved by `meshclaw demo`")
            return p.tool, [f"{p.tool} {p.args} waited for approval {p.id}: {p.reason}",
                            f"approved {p.id} as {actor.user_id} (what `meshclaw approve {p.id}` does)"]
        await asyncio.sleep(0.2)
    return None, []
