"""The flagship agents an employee installs with one command, each with the narrowest grants that let it work.

    template("inbox-triage").agent(name="inbox-triage", owner="alice", settings={"email": {...}})

A template names its workflow, the connectors it needs (whose settings come from the owner's
existing connections), its grants, its schedule, and says in plain words what it may and may not
do. Grants follow least privilege: triage may read, label, file and draft mail — it is never
granted ``email.send`` or a delete, so no text in a mail can make it send or delete anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshclaw.domain.errors import NotFound


@dataclass(frozen=True)
class Template:
    """One installable agent: ``needs`` maps a connector to the tools it is granted there."""

    name: str
    summary: str
    workflow: str | None
    instructions: str
    needs: dict[str, tuple[Any, ...]]  # connector -> grants (a tool name, or a grant mapping)
    may: tuple[str, ...]
    never: tuple[str, ...]
    schedule: str | None = None  # a cron line in the owner's time zone
    task: str = ""
    optional: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # granted when the owner has it
    limits: dict[str, int] = field(default_factory=dict)  # the run's ceilings (config ``limits``)
    triggers: tuple[dict[str, Any], ...] = ()  # event triggers (schedule: see ``schedule``)
    options: tuple[str, ...] = ()  # the workflow options ``agents add --option`` may set

    autonomy: str = "auto"

    def agent(self, *, name: str, owner: str, model: str, settings: dict[str, dict[str, Any]],
              timezone: str | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The agent's configuration block (a dict as in the YAML file).

        Grant conditions may name ``{owner}`` (the owner's user id) or ``{option.NAME}`` (a workflow
        option): they are filled in here, so a grant reaches exactly the owner or the channel chosen;
        a grant naming an option that was not given is left out (the agent cannot use it)."""
        toolsets: dict[str, Any] = {}
        for connector, grants in {**self.needs, **{k: v for k, v in self.optional.items() if k in settings}}.items():
            filled = [g for g in (_fill(g, owner, options or {}) for g in grants) if g is not None]
            block: dict[str, Any] = {"grants": filled}
            if settings.get(connector):
                block["settings"] = settings[connector]
            toolsets[connector] = block
        out: dict[str, Any] = {"name": name, "owner": owner, "description": self.summary,
                               "instructions": self.instructions, "model": model, "autonomy": self.autonomy,
                               "toolsets": toolsets}
        if self.workflow:
            out["workflow"] = self.workflow
        if self.limits:
            out["limits"] = dict(self.limits)
        triggers = [dict(t) for t in self.triggers]
        if self.schedule:
            trigger: dict[str, Any] = {"cron": self.schedule, "task": self.task or self.summary}
            if timezone:
                trigger["timezone"] = timezone
            triggers.append(trigger)
        if triggers:
            out["triggers"] = triggers
        return out

    def plain_words(self) -> list[str]:
        """What the agent may and may never do, for the person installing it."""
        lines = [f"{self.name}: {self.summary}"]
        if self.schedule:
            lines.append(f"  runs on schedule: {self.schedule} (your time zone)")
        lines += [f"  may: {m}" for m in self.may]
        lines += [f"  never: {n}" for n in self.never]
        return lines


def _fill(grant: Any, owner: str, options: dict[str, Any]) -> Any:
    """``grant`` with ``{owner}`` and ``{option.NAME}`` filled in its conditions; None when an option is missing."""
    if not isinstance(grant, dict):
        return grant
    missing = []

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if value == "{owner}":
            return owner
        if isinstance(value, str) and value.startswith("{option.") and value.endswith("}"):
            key = value[len("{option."):-1]
            if not str(options.get(key, "")).strip():
                missing.append(key)
            return str(options.get(key, ""))
        return value

    out = fill(grant)
    return None if missing else out


TEMPLATES: dict[str, Template] = {
    "inbox-triage": Template(
        name="inbox-triage",
        summary="labels and files new mail before your workday, drafts replies, and briefs you",
        workflow="inbox-triage",
        instructions="Triage the owner's new mail: one label each, file it, draft replies where needed.",
        needs={"email": ("email.list", "email.raw", "email.flag",
                         {"tool": "email.move", "when": {"to_folder": {"one_of": ["Junk"]}}}, "email.draft")},
        optional={"chat": ({"tool": "chat.direct_message", "when": {"user": {"one_of": ["{owner}"]}}},)},
        may=("read your new mail", "add one label to each message (urgent, needs reply, FYI, newsletter, spam, "
             "phishing)", "move spam and phishing to Junk", "save reply drafts in Drafts for you to edit",
             "send you the morning briefing by chat direct message (when you have chat)"),
        never=("send mail", "delete mail", "accept or decline invitations", "follow instructions found in mail"),
        schedule="30 6 * * 1-5",
        task="Triage new mail and brief me.",
        # 50 messages a run (the workflow's page), at most five calls and two judgements each.
        limits={"tool_calls_per_run": 260, "model_requests_per_run": 110},
    ),
    "meeting-scheduler": Template(
        name="meeting-scheduler",
        summary="finds a time with colleagues from their free/busy and books it after your yes",
        workflow="meeting-scheduler",
        instructions="Schedule the meeting the owner asks for.",
        needs={"calendar": ("calendar.freebusy", "calendar.create")},
        may=("read when you and colleagues are busy (times only, never what the meetings are)",
             "propose free slots in working hours", "send the invitation once you say yes"),
        never=("book anything without your yes", "read what is in other people's meetings",
               "change or cancel existing meetings"),
        autonomy="ask",
        limits={"tool_calls_per_run": 5, "model_requests_per_run": 2},
    ),
    "deploy-watcher": Template(
        name="deploy-watcher",
        summary="watches your services while you are in meetings; on failure posts an incident note and "
                "proposes a rollback",
        workflow="deploy-watcher",
        instructions="Watch the owner's services while they are in meetings.",
        needs={"deploy": ("deploy.services", "deploy.health", "deploy.logs",
                          {"tool": "deploy.rollback", "approval": "always"}),
               "calendar": ("calendar.freebusy",)},
        optional={"chat": ({"tool": "chat.post", "when": {"channel_id": {"one_of": ["{option.team_channel}"]}}},
                           {"tool": "chat.direct_message", "when": {"user": {"one_of": ["{owner}"]}}})},
        may=("check your services' health and read their recent logs",
             "see whether you are in a meeting (times only)",
             "post an incident note to your team channel (options.team_channel)",
             "roll a failing service back once you approve"),
        never=("deploy a new version", "roll back without your approval (unless you change that grant)",
               "quote log lines in chat (logs are outside text: counted, not relayed)"),
        triggers=({"event": "deploy.health_changed", "task": "A watched service changed health: act if I am in a meeting."},),
        limits={"tool_calls_per_run": 40, "model_requests_per_run": 1},
        options=("team_channel", "services", "tell_owner"),
    ),
    "status-report": Template(
        name="status-report",
        summary="drafts your weekly status report from your sent mail, meetings, chat and deployments",
        workflow="status-report",
        instructions="Draft the owner's weekly status report for them to edit and send.",
        needs={"email": ("email.list", "email.draft")},
        optional={"calendar": ("calendar.list",), "chat": ("chat.history",), "deploy": ("deploy.services",)},
        may=("read the subjects of mail you sent this week", "list your meetings of the week",
             "count your messages in the team channel", "list your services' versions",
             "save the report as a draft to your manager"),
        never=("send the report", "read mail others sent you", "ask a model: the report is assembled by code"),
        schedule="0 16 * * 5",
        task="Draft my weekly status report.",
        limits={"tool_calls_per_run": 10, "model_requests_per_run": 1},
        options=("team_channel",),
    ),
}


def template(name: str) -> Template:
    """The template ``name``; raises NotFound naming the known ones."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise NotFound(f"no agent template {name!r} (known: {', '.join(sorted(TEMPLATES))})") from None
