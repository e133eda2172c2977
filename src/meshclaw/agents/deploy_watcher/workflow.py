"""The deploy watcher as a structured workflow, started by ``deploy.health_changed`` (or on demand).

1. ``deploy.services`` and ``deploy.health`` for each watched service (``options.services``, default all):
   code reads process state and the health check — no model, so a run costs no tokens.
2. ``calendar.freebusy`` for the next hours: is the owner in a meeting now, and until when? If not, the owner can act:
   the run tells them (direct message when granted) and does nothing else.
3. For each failing service while the owner is away: ``deploy.logs`` (outside content: counted and
   named by severity, never relayed), an incident note posted to ``options.team_channel`` with
   ``chat.post`` (system facts only: service, versions, state, the check's reason), then
   ``deploy.rollback`` — which waits for the owner's approval unless the owner granted rollback
   without one (the grant decides, not this code). A refused or denied rollback is reported.
   A service with no version deployed (nothing to read or undo) or no recorded previous version
   (nothing to return to) is reported as such; no rollback is proposed for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from meshclaw.domain.errors import ToolFailed
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.calls import Calls
from meshclaw.runtime.workflows import register_workflow

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
    try:
        zone: Any = ZoneInfo(str(fb.get("timezone")))  # free/busy times are local to the calendar's zone
    except (ValueError, KeyError):
        zone = now.tzinfo

    def when(text: Any) -> datetime:
        at = datetime.fromisoformat(str(text))
        return at if at.tzinfo is not None else at.replace(tzinfo=zone)

    periods = []
    for b in (fb.get("busy") or {}).get("me") or []:
        try:
            periods.append((when(b[0]), when(b[1])))
        except (ValueError, IndexError, TypeError):
            continue  # not a period: not evidence of a meeting
    periods.sort()
    if not periods or periods[0][0] > now + timedelta(minutes=1):
        return False, ""
    until = periods[0][1]
    for start, end in periods[1:]:
        if start <= until:
            until = max(until, end)
    return True, f"{until.astimezone(now.tzinfo):%H:%M}"


def log_summary(lines: list[str]) -> str:
    """How many of the newest log lines look like errors (counted, never quoted: logs are outside text)."""
    bad = sum(1 for line in lines if any(w in str(line).lower() for w in ERROR_WORDS))
    return f"{bad} of the last {len(lines)} log lines look like errors"


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
        health = await calls.tool("deploy.health", service=s["service"])
        if health.get("health") != "healthy":
            failing.append((s["service"], s, health))
    if not failing:
        return f"All {len(services)} watched service(s) healthy."
    away, until = await in_meeting(calls)
    notes: list[str] = []
    lines = []
    for name, state, health in failing:
        version = health.get("version") or state.get("version")
        reason = health.get("reason") or "health check failing"
        lines.append(f"{name} {version or '(no version deployed)'}: failing ({reason})")
        if not away:
            continue
        previous = state.get("previous_version")
        if version is None:  # nothing runs (a service the backend does not hold): nothing to read or undo
            notes.append(f"{name}: no version is deployed, so there are no logs to read and nothing to roll back")
            continue
        logs = await _try(calls, notes, f"{name} logs", "deploy.logs", service=name, lines=50)
        counted = log_summary(logs.get("lines", [])) if logs else "logs unavailable"
        proposal = (f"a rollback to {previous} is proposed" if previous
                    else "there is no recorded previous version to roll back to")
        channel = options.get("team_channel")
        if channel:
            note = (f"Incident: {name} {version} is failing ({reason}); {counted}. "
                    f"{calls.deps.owner.name} is in a meeting until {until}; {proposal}.")
            if await _try(calls, notes, f"{name} incident note", "chat.post", channel_id=channel, text=note):
                notes.append(f"{name}: incident note posted to the team channel")
        if not previous:
            notes.append(f"{name}: not rolled back: no recorded previous version (deploy a version by name)")
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
