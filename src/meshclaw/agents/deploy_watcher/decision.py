"""What the deploy watcher does about one service: a pure decision from evidence, no I/O.

    decide(Situation(service="checkout", checks=("failing", "failing", "failing"), in_meeting=True,
                     version="2.4", previous_version="2.3", deployed_at=<aware datetime>, now=<aware datetime>,
                     rollback="ask"))
    → Decision(action="propose", reason="...")

Actions, in the order the rules below try them:

- ``none``: nothing to do — healthy on the newest check, failing while the owner is free (they are
  told and act themselves; the watcher changes nothing), or no version deployed (nothing to read or undo);
- ``note``: post an incident note only — the failure is not confirmed (a flapping check), the deploy
  API itself cannot be asked, there is no earlier version, no rollback is granted, or the running
  version is not new (deployed longer ago than ``RECENT``: the failure did not come with a deploy,
  so a rollback would not help);
- ``propose``: note, then a rollback that waits for the owner's approval (the grant asks);
- ``rollback``: note, then the rollback itself (the owner granted it without approval).

Log lines are never an input: they are outside text (a service writes what it processed), so they
are counted in the note and cannot steer the decision. The guard still decides every call; the
decision only chooses which calls the workflow makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from meshclaw.domain.config import Autonomy
from meshclaw.policy.guard import find_grant

Action = Literal["none", "note", "propose", "rollback"]
Rollback = Literal["not_granted", "ask", "auto"]
RECENT = timedelta(hours=24)  # a version deployed longer ago than this did not bring today's failure


@dataclass(frozen=True)
class Situation:
    """The evidence about one service. ``checks``: health verdicts oldest first ("healthy", "failing",
    or "unknown" when the deploy API could not be asked); ``deployed_at``: when the running version went
    live (aware), None when unknown; ``now``: aware; ``rollback``: what the grants allow (``rollback_mode``)."""

    service: str
    checks: tuple[str, ...]
    in_meeting: bool
    version: str | None
    previous_version: str | None
    deployed_at: datetime | None
    now: datetime
    rollback: Rollback


@dataclass(frozen=True)
class Decision:
    """``action`` (see the module docstring) and one line saying why."""

    action: Action
    reason: str


def flapping(checks: tuple[str, ...]) -> bool:
    """More than one change of verdict among the checks (failing, healthy, failing ...): not a steady failure."""
    return sum(1 for a, b in zip(checks, checks[1:]) if a != b) >= 2


def decide(s: Situation, recent: timedelta = RECENT) -> Decision:
    """The action for one service (module docstring). Pure: the same evidence, the same decision."""
    if not s.checks or s.checks[-1] == "healthy":
        return Decision("none", "healthy on the newest check")
    if not s.in_meeting:
        return Decision("none", "you are not in a meeting: you are told and nothing is changed")
    if s.version is None:
        return Decision("none", "no version is deployed, so there are no logs to read and nothing to roll back")
    if s.checks[-1] == "unknown":
        return Decision("note", "the deploy API cannot be asked: no rollback can be made through it either")
    if flapping(s.checks):
        return Decision("note", "the health check flaps between healthy and failing: not rolled back on an "
                                "unsteady check")
    if not s.previous_version:
        return Decision("note", "no recorded previous version (deploy a version by name)")
    if s.deployed_at is not None and s.now - s.deployed_at > recent:
        hours = int((s.now - s.deployed_at).total_seconds() // 3600)
        return Decision("note", f"{s.version} has run for {hours} h: the failure did not come with a deploy, "
                                "so a rollback would not help")
    if s.rollback == "not_granted":
        return Decision("note", "rollback is not granted to this agent")
    if s.rollback == "ask":
        return Decision("propose", f"the new version {s.version} fails: rollback to {s.previous_version} "
                                   "proposed, waiting for your approval")
    return Decision("rollback", f"the new version {s.version} fails: rolled back to {s.previous_version} "
                                "(you granted rollback without approval)")


def rollback_mode(agent: Any) -> Rollback:
    """What the agent's configuration allows for ``deploy.rollback``: not granted (or observe only), asking
    first (``autonomy: ask`` or the grant's ``approval: always``), or on its own (``policy/guard.py`` rules)."""
    grant = find_grant(agent, "deploy.rollback")
    if grant is None or agent.autonomy is Autonomy.OBSERVE:
        return "not_granted"
    if agent.autonomy is Autonomy.ASK or grant.approval == "always":
        return "ask"
    return "auto"


def deployed_at(state: dict[str, Any]) -> datetime | None:
    """When the running version went live, from a ``deploy.services`` entry: ``deployed_at`` when the backend
    gives it, else ``since`` of a running process (its start); None when unknown or unreadable."""
    value = state.get("deployed_at") or (state.get("since") if state.get("state") == "running" else None)
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return at if at is None or at.tzinfo else None


def situation(state: dict[str, Any], first: dict[str, Any], checks: tuple[str, ...], in_meeting: bool, now: datetime,
              rollback: Rollback) -> Situation:
    """The Situation from tool-shaped evidence: a ``deploy.services`` entry, the first ``deploy.health`` answer,
    the verdicts of all checks, the owner's meeting state, the run's "now" and ``rollback_mode``."""
    return Situation(service=str(state.get("service", first.get("service", ""))), checks=checks,
                     in_meeting=in_meeting, version=first.get("version") or state.get("version"),
                     previous_version=state.get("previous_version"), deployed_at=deployed_at(state), now=now,
                     rollback=rollback)


def meeting_state(freebusy: dict[str, Any], now: datetime) -> tuple[bool, str]:
    """(is the owner in a meeting at ``now``, until when as HH:MM in ``now``'s zone) from a ``calendar.freebusy``
    answer for the hours ahead: a busy period begun by the next minute is a meeting now; periods back to back
    count as one. Times without an offset are in the answer's ``timezone``; unreadable periods are ignored."""
    try:
        zone: Any = ZoneInfo(str(freebusy.get("timezone")))
    except (ValueError, KeyError):
        zone = now.tzinfo

    def when(text: Any) -> datetime:
        at = datetime.fromisoformat(str(text))
        return at if at.tzinfo is not None else at.replace(tzinfo=zone)

    periods = []
    for b in (freebusy.get("busy") or {}).get("me") or []:
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
