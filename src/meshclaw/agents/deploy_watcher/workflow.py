"""The deploy watcher as a structured workflow, started by ``deploy.health_changed`` (or on demand).

1. ``deploy.services`` and ``deploy.health`` for each watched service (``options.services``, default all):
   code reads process state and the health check — no model, so a run costs no tokens.
2. ``calendar.freebusy`` for the next hours: is the owner in a meeting now, and until when? If not, the owner can act:
   the run tells them (direct message when granted) and does nothing else.
3. For each failing service while the owner is away: the health is checked again (``options.rechecks``,
   default 2, ``options.recheck_seconds`` apart, default 2) so a flapping check is told from a steady
   failure, and ``decision.decide`` chooses from that evidence, the deploy history and the grants:
   nothing, an incident note only, or a note and a rollback (see ``decision.py``: a service with no
   version deployed, no recorded previous version, a version that has run for more than a day, or a
   rollback not granted gets no rollback).
4. ``deploy.logs`` (outside content: counted, never relayed), an incident note posted to
   ``options.team_channel`` with ``chat.post`` (system facts only: service, versions, state, the check's
   reason, the decision), then — when the decision says so — ``deploy.rollback``, which waits for the
   owner's approval unless the owner granted rollback without one (the guard decides each call, not this
   code). A refused or denied rollback is reported. A health check the deploy API cannot answer counts
   as "unknown", never as a crash.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from meshclaw.domain.errors import ToolFailed, UsageError
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.calls import Calls
from meshclaw.runtime.workflows import register_workflow

from .decision import Decision, decide, meeting_state, rollback_mode, situation

NAME = "deploy-watcher"
LOOK_AHEAD = timedelta(hours=12)  # how far free/busy is read to find when the current meeting ends
ERROR_WORDS = ("error", "exception", "fatal", "panic", "traceback", "refused", "timeout", "failed")


async def _try(calls: Calls, notes: list[str], what: str, name: str, **args: Any) -> Any:
    try:
        return await calls.tool(name, **args)
    except PolicyDenied as e:
        notes.append(f"{what}: not done ({e.decision.reason})")
    except ToolFailed as e:
        notes.append(f"{what}: failed ({e})")
    return None


async def in_meeting(calls: Calls) -> tuple[bool, str]:
    """(is the owner in a meeting now, until when as HH:MM) from their free/busy; (False, "") if unknown.

    Free/busy is asked for the next LOOK_AHEAD hours: a busy period that has begun by the next minute
    means a meeting now, and its end (busy periods back to back count as one) is when it ends."""
    now = calls.now
    try:
        fb = await calls.tool("calendar.freebusy", start=now.isoformat(timespec="minutes"),
                              end=(now + LOOK_AHEAD).isoformat(timespec="minutes"))
    except (PolicyDenied, ToolFailed):
        return False, ""
    return meeting_state(fb, now)


def log_summary(lines: list[str]) -> str:
    """How many of the newest log lines look like errors (counted, never quoted: logs are outside text)."""
    bad = sum(1 for line in lines if any(w in str(line).lower() for w in ERROR_WORDS))
    return f"{bad} of the last {len(lines)} log lines look like errors"


async def health_of(calls: Calls, service: str) -> dict[str, Any]:
    """``deploy.health`` for one service; a check the deploy API cannot answer is ``{"health": "unknown"}``."""
    try:
        return await calls.tool("deploy.health", service=service)
    except ToolFailed as e:
        return {"service": service, "health": "unknown", "reason": f"the deploy API could not be asked ({e})"[:200]}


async def health_history(calls: Calls, service: str, first: dict[str, Any]) -> tuple[str, ...]:
    """The first verdict and ``options.rechecks`` more, ``options.recheck_seconds`` apart (oldest first)."""
    options = calls.deps.agent.options
    try:
        rechecks, pause = int(options.get("rechecks", 2)), float(options.get("recheck_seconds", 2.0))
    except (TypeError, ValueError):
        raise UsageError("options.rechecks must be a whole number and options.recheck_seconds a number of seconds, "
                         f"not {options.get('rechecks')!r} / {options.get('recheck_seconds')!r}") from None
    verdicts = [str(first.get("health"))]
    for _ in range(max(0, min(rechecks, 10))):
        await asyncio.sleep(max(0.0, min(pause, 60.0)))
        verdicts.append(str((await health_of(calls, service)).get("health")))
    return tuple(verdicts)


def incident_note(owner: str, until: str, name: str, version: Any, reason: str, counted: str, previous: Any,
                  decision: Decision) -> str:
    """The note for the team channel: system facts and the decision, never a log line."""
    what = {"propose": f"a rollback to {previous} is proposed",
            "rollback": f"a rollback to {previous} follows (the grant needs no approval)",
            }.get(decision.action, f"no rollback: {decision.reason}")
    return (f"Incident: {name} {version} is failing ({reason}); {counted}. "
            f"{owner} is in a meeting until {until}; {what}.")


@register_workflow(NAME)
async def deploy_watcher(calls: Calls) -> str:
    """Check the watched services and act while the owner is in a meeting (module docstring)."""
    options = calls.deps.agent.options
    listing = await calls.tool("deploy.services")
    listed = options.get("services") or []
    wanted = set(listed.split(",") if isinstance(listed, str) else listed) - {""}
    services = [s for s in listing.get("services", []) if not wanted or s["service"] in wanted]
    failing = []
    for s in services:
        health = await health_of(calls, s["service"])
        if health.get("health") != "healthy":
            failing.append((s["service"], s, health))
    if not failing:
        return f"All {len(services)} watched service(s) healthy."
    away, until = await in_meeting(calls)
    mode = rollback_mode(calls.deps.agent)
    notes: list[str] = []
    lines = []
    for name, state, health in failing:
        version = health.get("version") or state.get("version")
        reason = health.get("reason") or "health check failing"
        lines.append(f"{name} {version or '(no version deployed)'}: failing ({reason})")
        if not away:
            continue
        checks = await health_history(calls, name, health) if version is not None else (str(health.get("health")),)
        decision = decide(situation(state, health, checks, away, calls.now, mode))
        if len(checks) > 1:
            lines[-1] += f"; checks {', '.join(checks)}"
        if decision.action == "none":
            notes.append(f"{name}: {decision.reason}")
            continue
        logs = await _try(calls, notes, f"{name} logs", "deploy.logs", service=name, lines=50)
        counted = log_summary(logs.get("lines", [])) if logs else "logs unavailable"
        channel = options.get("team_channel")
        if channel:
            note = incident_note(calls.deps.owner.name, until, name, version, reason, counted,
                                 state.get("previous_version"), decision)
            if await _try(calls, notes, f"{name} incident note", "chat.post", channel_id=channel, text=note):
                notes.append(f"{name}: incident note posted to the team channel")
        if decision.action not in ("propose", "rollback"):
            notes.append(f"{name}: not rolled back: {decision.reason}")
            continue
        done = await _try(calls, notes, f"{name} rollback", "deploy.rollback", service=name)
        if done:
            after = (done.get("health") or {}).get("health", "unknown")
            notes.append(f"{name}: rolled back to {done.get('version')} (health now {after})")
    if not away:
        text = "Failing: " + "; ".join(lines) + ". You are not in a meeting, so I only tell you."
        if str(options.get("tell_owner", True)).strip().lower() not in ("false", "no", "0", "off"):
            await _try(calls, notes, "message to you", "chat.direct_message", user=calls.deps.owner.id, text=text)
        return text + ("\n" + "\n".join(notes) if notes else "")
    return "Failing while you were in a meeting: " + "; ".join(lines) + "\n" + "\n".join(notes)
