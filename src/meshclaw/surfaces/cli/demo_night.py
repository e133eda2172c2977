"""``meshclaw demo``: one night of the flagship agents in a sandbox workplace, then the morning summary.

Everything happens in its own data dir (``$MESHCLAW_HOME/demo``: configuration, SQLite store, durable
runs), so the person's own configuration and agents are never touched:

1. the workplace ``demo`` is seeded fresh (``demo_seed``): Alice's overnight mail, the team's
   meetings, a team channel, two services of which one fails during Alice's meeting (the health
   watch takes its baseline right after, ``demo_deploy``);
2. the flagship agents are installed for Alice through ``operations.agent_install.add_agent`` (their
   connections copied from her sandbox connections) and promoted by her (``operations.control``);
3. the night runs: inbox triage, the weekly status report (when its template is installed), then
   Alice's request "find 30 minutes with Bob next week", whose
   invitation waits for her approval and is approved as she would (``operations.approvals``); then
   the health watch sees ``payments`` failing and starts deploy-watcher, whose rollback is left
   waiting for Alice (``demo_deploy``);
4. the summary (``demo_summary``) says what each agent did, refused and left waiting, and the
   tokens and time used.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

WORKPLACE = "demo"
TZ = "Europe/Berlin"
TRIAGE_TASK = "Triage new mail and brief me."
MEETING_TASK = "Find 30 minutes with Bob next week to go over the Q3 plan."
REPORT_TASK = "Draft my weekly status report."
FLAGSHIPS = ("inbox-triage", "meeting-scheduler", "deploy-watcher")
LATER_FLAGSHIPS = ("status-report",)  # installed when their templates and connectors exist
OPTIONS = {"deploy-watcher": {"team_channel": "team"}}  # `agents add --option` per flagship

# The scripted path (CI, no model): one answer per agent that fits its judgement schemas.
SCRIPTED_TRIAGE = {"label": "needs_reply", "reason": "a person asks Alice for something", "selling": False,
                   "body": "Hi, thanks for your message. I will look at this today and come back to you.\nAlice"}
SCRIPTED_MEETING = {"people": ["Bob"], "minutes": 30, "when": "next_week", "date": "", "title": "Q3 plan with Bob"}


@dataclass
class RunRecord:
    """One agent's run in the night, with what the summary needs."""

    agent: str
    task: str
    run_id: str = ""
    status: str = ""
    output: str = ""
    error: str = ""
    seconds: float = 0.0
    approvals: list[str] = field(default_factory=list)


@dataclass
class Night:
    home: Path
    scripted: bool
    night: str
    seeded: Any = None
    installed: list[Any] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    setup_seconds: float = 0.0
    night_seconds: float = 0.0
    began_at: datetime | None = None  # when the night's first run started (UTC)
    health: Any = None  # the deployments' health watch (demo_deploy), its baseline taken at set-up


def demo_config(login: str, scripted: bool) -> str:
    """The demo organisation: Alice, Bob (her manager) and Carol, Alice's sandbox connections, the model."""
    if scripted:
        models = {"triage-script": {"kind": "scripted", "turns": [{"text": json.dumps(SCRIPTED_TRIAGE)}]},
                  "meeting-script": {"kind": "scripted", "turns": [{"text": json.dumps(SCRIPTED_MEETING)}]}}
        base_model = "triage-script"
    else:
        # A generous timeout per request: on a busy machine a judgement may wait minutes for the CPU.
        models = {"local": {"kind": "bundled", "context": 8192, "threads": 2, "timeout": 1200}}
        base_model = "local"
    config = {
        "organisation": {"name": "Example Corp", "domains": ["example.com"], "timezone": TZ},
        "users": [
            {"id": "alice", "name": "Alice Example", "email": "alice@example.com", "manager": "bob", "timezone": TZ},
            {"id": "bob", "name": "Bob Manager", "email": "bob@example.com", "roles": ["employee", "manager"],
             "timezone": TZ},
            {"id": "carol", "name": "Carol SRE", "email": "carol@example.com", "manager": "bob", "timezone": TZ},
        ],
        "local_users": {login: "alice"},
        "models": models,
        "agents": [{
            "name": "alice-workplace", "owner": "alice", "model": base_model,
            "description": "Alice's connections to the demo workplace (the sandbox), reused by `agents add`",
            "instructions": "Answer Alice's questions about her mail and calendar.",
            "toolsets": {
                "email": {"grants": ["email.list"],
                          "settings": {"backend": "sandbox", "workplace": WORKPLACE, "address": "alice@example.com"}},
                "calendar": {"grants": ["calendar.list"],
                             "settings": {"backend": "sandbox", "workplace": WORKPLACE, "timezone": TZ}},
                **deploy_connections(),
            },
        }],
    }
    # Block-style YAML, which the round-trip editor of `agents add` keeps readable as it adds agents.
    import yaml

    return DEMO_HEADER + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)


DEMO_HEADER = "# The `meshclaw demo` organisation (rewritten by each demo).\n"


def fresh_home(home: Path) -> None:
    """Remove an earlier night's data dir (store, durable runs, audit keys, configuration), so each night
    starts fresh: nothing from an earlier night shows in its figures. Refuses (UsageError) when the
    directory holds a configuration that is not the demo's."""
    import shutil

    from meshclaw.domain.errors import UsageError

    if not home.exists():
        return
    config = home / "meshclaw.yaml"
    if config.exists() and not config.read_text(encoding="utf-8", errors="replace").startswith(DEMO_HEADER):
        raise UsageError(f"{home} holds a configuration that is not the demo's; not removing it")
    shutil.rmtree(home)


def deploy_connections() -> dict[str, Any]:
    """Alice's sandbox deploy and chat connections (deploy-watcher's, reused by `agents add`)."""
    from .demo_deploy import deploy_settings

    return {"deploy": {"grants": ["deploy.services"], "settings": deploy_settings(WORKPLACE)},
            "chat": {"grants": ["chat.history"], "settings": {"backend": "sandbox", "workplace": WORKPLACE}}}


def set_up(night: Night, say: Any) -> tuple[Any, Any, Any]:
    """Write the configuration, seed the workplace, install and promote the agents: (config, store, actor)."""
    from meshclaw.agents.catalog import TEMPLATES
    from meshclaw.domain.config_file import load_config
    from meshclaw.domain.errors import MeshclawError
    from meshclaw.operations import control
    from meshclaw.operations.actor import Actor, os_login
    from meshclaw.operations.agent_install import add_agent
    from meshclaw.operations.context import Context
    from meshclaw.store.database import private_file
    from meshclaw.store.facade import Store

    from .demo_seed import seed_night

    started = time.monotonic()
    home = night.home
    fresh_home(home)
    path = home / "meshclaw.yaml"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    private_file(path)
    path.write_text(demo_config(os_login(), night.scripted), encoding="utf-8")
    private_file(home / "secrets.env")
    store = Store(home, None)  # SQLite in the demo's own data dir, whatever MESHCLAW_DATABASE_URL says
    night.seeded = seed_night(store, WORKPLACE, night=night.night, now=datetime.now(timezone.utc), tz=TZ)
    s = night.seeded
    say(f"workplace [bold]{WORKPLACE}[/bold] seeded fresh: {s.messages} new messages overnight for Alice "
        f"({', '.join(f'{n} {k}' for k, n in s.kinds.items())}), {s.sent} in her Sent folder, "
        f"{s.meetings} meetings in her calendar over three weeks, a team channel")
    watch_from_now(night, store, say)
    config = load_config(path)
    actor = Actor.local(config)
    models = {"inbox-triage": "triage-script", "meeting-scheduler": "meeting-script"} if night.scripted else {}
    for name in FLAGSHIPS + tuple(t for t in LATER_FLAGSHIPS if t in TEMPLATES):
        ctx = Context(config, store, home, None)
        try:
            installed = add_agent(ctx, actor, path, name, "alice", model=models.get(name), options=OPTIONS.get(name))
        except MeshclawError as e:
            night.skipped.append(f"{name}: {e}")
            say(f"[yellow]not installed[/yellow] {name}: {e}")
            continue
        config = load_config(path)
        ctx = Context(config, store, home, None)
        control.promote(ctx, actor, installed.name)
        night.installed.append(installed)
        say(f"installed and promoted [bold]{installed.name}[/bold] for alice: {installed.lines[0].split(': ', 1)[1]}")
    night.setup_seconds = time.monotonic() - started
    return config, store, actor


def watch_from_now(night: Night, store: Any, say: Any) -> None:
    """Take the deployments' health baseline (right after seeding, before the scripted failure)."""
    from .demo_deploy import health_baseline

    if getattr(night.seeded, "deploy", None) is not None:
        night.health = health_baseline(store, WORKPLACE)
        d = night.seeded.deploy
        say(f"services {', '.join(d.services)} deployed (a week of history); Alice is in “{d.meeting}” until "
            f"{d.meeting_end:%H:%M}")


def progress_printer(say: Any, agent: str) -> Any:
    """A run listener that prints what the agent does as it does it, one short line per act."""
    def on(event: Any) -> None:
        event = event.as_dict() if hasattr(event, "as_dict") else event  # typed events (domain/runs.py)
        if event.get("kind") != "tool":
            return
        tool, args, verdict = event.get("tool", ""), event.get("args") or {}, event.get("verdict", "")
        if verdict == "deny":
            say(f"  [red]refused[/red] {tool}: {event.get('reason', '')}")
        elif tool == "email.flag" and args.get("flag") not in (None, "Triaged"):
            say(f"  labelled message {args.get('uid')}: [bold]{args.get('flag')}[/bold]")
        elif tool == "email.move":
            say(f"  moved message {args.get('uid')} to {args.get('to_folder')}")
        elif tool == "email.draft" and args.get("reply_to_uid") is not None:
            say(f"  drafted a reply to message {args.get('reply_to_uid')}")
        elif tool == "email.draft":
            say(f"  drafted “{args.get('subject', '')}” for {', '.join(args.get('to') or []) or 'you'}")
        elif tool in ("calendar.freebusy", "calendar.create"):
            say(f"  {tool} {', '.join(f'{k}={v}' for k, v in args.items() if k in ('start', 'end', 'title', 'people'))}"
                f" ({verdict})")
    return on


async def _approve_as_owner(ctx: Any, actor: Any, run_id: str, waiting: Any, record: RunRecord, say: Any) -> None:
    """Approve the run's pending requests as Alice once they exist, as `meshclaw approve ID` would."""
    from meshclaw.operations.approvals import answer, list_pending

    while not waiting.done():
        for p in [p for p in list_pending(ctx, actor) if p.run_id == run_id]:
            say(f"  [yellow]waiting for Alice[/yellow]: {p.tool} ({p.reason})")
            answer(ctx, actor, p.id, "approved")  # a plain yes: a note would read as "approved with a change"
            record.approvals.append(f"{p.tool} {json.dumps(p.args, ensure_ascii=False)} — {p.reason}")
            say(f"  approved {p.id} as alice (what `meshclaw approve {p.id}` does)")
        await asyncio.sleep(0.2)


def run_night(night: Night, config: Any, store: Any, actor: Any, say: Any) -> None:
    """Run the installed agents of the night, one after the other, with progress."""
    from meshclaw.connectors.registry import resolve
    from meshclaw.domain.secrets import Secrets
    from meshclaw.operations.context import Context
    from meshclaw.operations.runs import finish, start_run
    from meshclaw.runtime.engine import Runtime

    from .demo_deploy import watch_deployments
    from .demo_memory import dream_pass

    runtime = Runtime(config, night.home, store, Secrets(night.home / "secrets.env"), resolve)
    runtime.launch()
    ctx = Context.of_runtime(runtime)
    installed = {i.template: i.name for i in night.installed}
    plan = [(installed[t], task) for t, task in (("inbox-triage", TRIAGE_TASK), ("status-report", REPORT_TASK),
                                                  ("meeting-scheduler", MEETING_TASK)) if t in installed]

    async def go() -> None:
        for agent, task in plan:
            record = RunRecord(agent, task)
            night.runs.append(record)
            say(f"[bold]{agent}[/bold]: {task}")
            began = time.monotonic()
            started = await start_run(runtime, actor, agent, task, listeners=[progress_printer(say, agent)])
            waiting = asyncio.ensure_future(finish(runtime, started))
            await _approve_as_owner(ctx, actor, started.run_id, waiting, record, say)
            done = await waiting
            record.run_id, record.status = done.run_id, done.status
            record.output, record.error = done.output or "", done.error or ""
            record.seconds = time.monotonic() - began
            say(f"  {agent} {done.status} in {record.seconds:.1f} s")
        await watch_deployments(night, runtime, say, RunRecord)  # demo_deploy: the failing service
        await dream_pass(night, runtime, actor, say, RunRecord)  # demo_memory: the nightly consolidation

    began = time.monotonic()
    night.began_at = datetime.now(timezone.utc)
    try:
        asyncio.run(go())
    finally:
        night.night_seconds = time.monotonic() - began
        runtime.shutdown()
