"""A simulated workplace for the injection suite: an inbox, chat, calendar, files, deployments, CRM...

One ``Workplace`` per agent run holds the world the sandbox tools read and change, and logs every
change the agent made (``effects``), so the suite can check what actually happened rather than
what the model said. Workplaces are attached to runs by run id: tools find theirs through
``ctx.deps.run_id``, which the runtime gives every tool call.

The workplace also registers its content with the quarantined reader (``email:<id>``,
``chat:<channel>``...), so ``reader.extract`` can read it without the planner reading it.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from meshclaw.connectors import quarantine


@dataclass(frozen=True)
class Change:
    """One thing the agent did to the world."""

    tool: str
    args: dict[str, Any]
    call_id: str


@dataclass
class Workplace:
    inbox: list[dict[str, Any]] = field(default_factory=list)  # {id, from, to, subject, body, received}
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> [{id, author, text, ts}]
    events: list[dict[str, Any]] = field(default_factory=list)  # {id, title, start, end, organizer, attendees, description}
    files: dict[str, str] = field(default_factory=dict)  # path -> content
    releases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # service -> [{version, date, notes}]
    deployed: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> environment -> version
    crm: list[dict[str, Any]] = field(default_factory=list)  # {id, company, contact, email, notes}
    tickets: list[dict[str, Any]] = field(default_factory=list)  # {id, title, status, body, comments}
    web: dict[str, str] = field(default_factory=dict)  # url -> page text
    memory: list[dict[str, Any]] = field(default_factory=list)  # {text, trust}
    sent: list[dict[str, Any]] = field(default_factory=list)  # {id, to, subject, body, tainted}
    invoices: list[dict[str, Any]] = field(default_factory=list)  # {id, received, payee, iban, amount, text}
    effects: list[Change] = field(default_factory=list)

    @classmethod
    def build(cls, data: dict[str, Any]) -> "Workplace":
        known = set(cls.__dataclass_fields__) - {"effects"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown workplace parts: {', '.join(sorted(unknown))}")
        return cls(**copy.deepcopy(data))  # runs must not share (or change) the scenario's data

    def record(self, tool: str, args: dict[str, Any], call_id: str | None) -> None:
        self.effects.append(Change(tool, copy.deepcopy(args), call_id or ""))

    def find(self, kind: str, key: str, value: str) -> dict[str, Any]:
        for item in getattr(self, kind):
            if str(item.get(key)) == value:
                return item
        raise KeyError(f"no {kind[:-1] if kind.endswith('s') else kind} with {key} {value!r}")


_WORKPLACES: dict[str, Workplace] = {}
_LOCK = threading.Lock()


def attach(run_id: str, workplace: Workplace) -> None:
    with _LOCK:
        _WORKPLACES[run_id] = workplace


def detach(run_id: str) -> Workplace | None:
    with _LOCK:
        return _WORKPLACES.pop(run_id, None)


def lookup(run_id: str) -> Workplace | None:
    with _LOCK:
        return _WORKPLACES.get(run_id)


def of(ctx: Any) -> Workplace:
    wp = lookup(ctx.deps.run_id)
    if wp is None:
        raise RuntimeError("the sandbox tools only work in runs of the injection suite (no workplace attached)")
    return wp


# --- content for the quarantined reader ---------------------------------------------------------


def _message_text(m: dict[str, Any]) -> str:
    return f"From: {m.get('from', '')}\nSubject: {m.get('subject', '')}\nDate: {m.get('received', '')}\n\n{m.get('body', '')}"


def _content(kind: str, wp: Workplace, ref: str) -> str | None:
    try:
        if kind == "email":
            return _message_text(wp.find("inbox", "id", ref))
        if kind == "chat":
            return "\n".join(f"{m['author']}: {m['text']}" for m in wp.channels[ref.lstrip("#")])
        if kind == "calendar":
            e = wp.find("events", "id", ref)
            return f"{e.get('title', '')}\n{e.get('start', '')} - {e.get('end', '')}\nOrganizer: {e.get('organizer', '')}\n\n{e.get('description', '')}"
        if kind == "file":
            return wp.files[ref]
        if kind == "ticket":
            t = wp.find("tickets", "id", ref)
            return f"{t.get('title', '')}\n\n{t.get('body', '')}\n" + "\n".join(t.get("comments", []))
        if kind == "web":
            return wp.web[ref]
        if kind == "release":
            service, _, version = ref.partition("@")
            return "\n".join(f"{r['version']}: {r.get('notes', '')}" for r in wp.releases[service]
                             if not version or r["version"] == version)
    except KeyError:
        return None
    return None


def _source(kind: str) -> quarantine.Fetch:
    async def fetch(ctx: Any, ref: str) -> str | None:
        wp = lookup(ctx.deps.run_id)
        return None if wp is None else _content(kind, wp, ref)

    return fetch


_READ_TOOLS = {"email": "email.read", "chat": "chat.read", "calendar": "calendar.list", "file": "files.read",
               "ticket": "mcp_tickets.read", "web": "mcp_web.fetch", "release": "deploy.releases"}
_FETCHERS = {kind: _source(kind) for kind in _READ_TOOLS}
for _kind, _tool in _READ_TOOLS.items():
    quarantine.register_source(_kind, _tool, _FETCHERS[_kind])
