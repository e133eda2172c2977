"""The weekly status report as a structured workflow: code gathers, the owner edits and sends.

Sources, each optional (a connector the agent is not granted is skipped and named in the draft):

- ``email.list`` of Sent: the subjects of what the owner sent this week (the owner's own words);
- ``calendar.list``: the meetings of the week (titles, which others may have chosen, are listed as
  titles, never followed);
- ``chat.history`` of ``options.team_channel``: how many messages the owner posted there;
- ``deploy.services``: each service's current and previous version.

The report is saved with ``email.draft`` addressed to the owner's manager (``users[].manager``), or
to the owner when they have none — a draft, never sent. No model is asked: nothing here needs one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from meshclaw.domain.errors import ToolFailed
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.calls import Calls
from meshclaw.runtime.workflows import register_workflow

NAME = "status-report"


def _when(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None


async def _read(calls: Calls, skipped: list[str], what: str, name: str, **args: Any) -> Any:
    if not calls.granted(name):
        skipped.append(f"{what} (not granted)")
        return None
    try:
        return await calls.tool(name, **args)
    except (PolicyDenied, ToolFailed) as e:
        skipped.append(f"{what} ({e})" if isinstance(e, ToolFailed) else f"{what} (not granted)")
        return None


def _recent(items: list[dict], since: datetime) -> list[dict]:
    out = []
    for m in items:
        at = _when(str(m.get("date", "")))
        if at is not None and (at if at.tzinfo else at.replace(tzinfo=since.tzinfo)) >= since:
            out.append(m)
    return out


@register_workflow(NAME)
async def status_report(calls: Calls) -> str:
    """Gather the week and save the report as a draft (module docstring); the draft's text."""
    deps, now = calls.deps, calls.now
    since = now - timedelta(days=7)
    skipped: list[str] = []
    sections: list[str] = []
    sent = await _read(calls, skipped, "sent mail", "email.list", folder="Sent", limit=100)
    if sent is not None:
        mine = _recent(sent.get("messages", []), since)
        lines = [f"- {m.get('subject', '(no subject)')}" for m in mine[:15]]
        sections.append(f"Mail I sent ({len(mine)}):\n" + ("\n".join(lines) or "- none"))
    meetings = await _read(calls, skipped, "calendar", "calendar.list", start=since.isoformat(timespec="minutes"),
                           end=now.isoformat(timespec="minutes"))
    if meetings is not None:
        held = meetings.get("events", [])
        titles = [f"- {e.get('title', '(untitled)')} ({str(e.get('start', ''))[:10]})" for e in held[:15]]
        sections.append(f"Meetings ({len(held)}):\n" + ("\n".join(titles) or "- none"))
    channel = deps.agent.options.get("team_channel")
    if channel:
        chat = await _read(calls, skipped, "team chat", "chat.history", channel_id=channel, limit=100)
        if chat is not None:
            accounts = set((getattr(deps.owner, "chat", None) or {}).values())  # the owner's verified chat ids
            own = [m for m in chat.get("messages", []) if m.get("author_id") in accounts]
            sections.append(f"Team channel: {len(own)} message(s) from me in the last {len(chat.get('messages', []))}")
    services = await _read(calls, skipped, "deployments", "deploy.services")
    if services is not None:
        rows = [f"- {s['service']}: {s.get('version')} (before: {s.get('previous_version') or '-'}), {s.get('state')}"
                for s in services.get("services", [])]
        sections.append("Deployments:\n" + ("\n".join(rows) or "- none"))
    manager = next((u for u in deps.config.users if u.id == deps.owner.manager), None)
    to = (manager.email if manager and manager.email else deps.owner.email) or ""
    body = (f"Status, week of {since:%d %B} to {now:%d %B %Y}\n\n" + "\n\n".join(sections)
            + ("\n\n(Not included: " + "; ".join(skipped) + ")" if skipped else "")
            + f"\n\n{deps.owner.name.split()[0]}")
    draft = await _read(calls, skipped, "the draft", "email.draft", subject=f"Status: week of {since:%d %B}",
                        body=body, to=[to] if to else None)
    head = f"Status report drafted for {to}" if draft is not None else "Status report NOT saved (" + skipped[-1] + ")"
    return head + "\n\n" + body
