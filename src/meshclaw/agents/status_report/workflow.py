"""The weekly status report as a structured workflow: code gathers, the owner edits and sends.

Sources, each optional (a connector the agent is not granted is skipped and named in the draft):

- ``email.list`` of Sent: the subjects of what the owner sent this week (the owner's own words);
- ``calendar.list``: the meetings of the week (titles, which others may have chosen, are listed as
  titles, never followed);
- ``chat.history`` of ``options.team_channel``: how many messages the owner posted there;
- ``deploy.services``: each service's current and previous version.

Which items go in, and which never do (private mail, other people's items, text that addresses an
AI assistant, last month's deploys), is decided by ``compose.compose`` from what was read.

The report is saved with ``email.draft`` addressed to the owner's manager (``users[].manager``), or
to the owner when they have none — a draft, never sent. No model is asked: nothing here needs one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from meshclaw.domain.errors import ToolFailed
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.calls import Calls
from meshclaw.runtime.workflows import register_workflow

from .compose import ReportOwner, Week, compose

NAME = "status-report"


async def _read(calls: Calls, skipped: list[str], what: str, name: str, **args: Any) -> Any:
    if not calls.granted(name):
        skipped.append(f"{what} (not granted)")
        return None
    try:
        return await calls.tool(name, **args)
    except (PolicyDenied, ToolFailed) as e:
        skipped.append(f"{what} ({e})" if isinstance(e, ToolFailed) else f"{what} (not granted)")
        return None


def report_owner(deps: Any) -> ReportOwner:
    """The owner as the report sees them: address, organisation domains, verified chat ids, work domains."""
    extra = deps.agent.options.get("work_domains") or []
    extra = extra.split(",") if isinstance(extra, str) else list(extra)
    return ReportOwner(name=deps.owner.name, address=(deps.owner.email or "").lower(),
                       org_domains=tuple(d.lower() for d in deps.config.organisation.domains),
                       chat_ids=frozenset((getattr(deps.owner, "chat", None) or {}).values()),
                       work_domains=tuple(d.strip().lower() for d in extra if d.strip()))


async def gather(calls: Calls) -> Week:
    """Read the week's sources the agent is granted (module docstring); None for each one not read."""
    deps, now = calls.deps, calls.now
    week = Week(owner=report_owner(deps), since=now - timedelta(days=7), now=now)
    sent = await _read(calls, week.skipped, "sent mail", "email.list", folder="Sent", limit=100)
    week.sent = None if sent is None else list(sent.get("messages", []))
    meetings = await _read(calls, week.skipped, "calendar", "calendar.list",
                           start=week.since.isoformat(timespec="minutes"), end=now.isoformat(timespec="minutes"))
    week.events = None if meetings is None else list(meetings.get("events", []))
    channel = deps.agent.options.get("team_channel")
    if channel:
        chat = await _read(calls, week.skipped, "team chat", "chat.history", channel_id=channel, limit=100)
        week.chat = None if chat is None else list(chat.get("messages", []))
    services = await _read(calls, week.skipped, "deployments", "deploy.services")
    week.services = None if services is None else list(services.get("services", []))
    return week


@register_workflow(NAME)
async def status_report(calls: Calls) -> str:
    """Gather the week and save the report as a draft (module docstring); the draft's text."""
    deps = calls.deps
    week = await gather(calls)
    body = compose(week).body
    manager = next((u for u in deps.config.users if u.id == deps.owner.manager), None)
    to = (manager.email if manager and manager.email else deps.owner.email) or ""
    skipped: list[str] = []
    draft = await _read(calls, skipped, "the draft", "email.draft", subject=f"Status: week of {week.since:%d %B}",
                        body=body, to=[to] if to else None)
    head = f"Status report drafted for {to}" if draft is not None else "Status report NOT saved (" + skipped[-1] + ")"
    return head + "\n\n" + body
