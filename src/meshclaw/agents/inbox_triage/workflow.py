"""Inbox triage as a structured workflow: code lists and files, the model judges one message at a time.

    agents: [{name: inbox-triage, workflow: inbox-triage, toolsets: {email: {grants: [email.list,
              email.raw, email.flag, email.move, email.draft]}, ...}}]

For each message in INBOX that does not yet carry the ``Triaged`` label (oldest first, at most
``PAGE`` per run; the rest are counted and left for the next run):

1. ``email.raw`` → ``evidence.evidence_of`` (headers, structure, the owner's history);
2. ``labels.decide`` settles it from evidence; for a stranger's first mail with commercial language the model answers one
   yes/no question (``labels.Pitch``: is it selling?); else the model answers ``labels.Judgement``
   about that one message (each a metered, schema-constrained judgement with no tools);
3. it is filed, never deleted: the label word and ``Triaged`` are set as IMAP keywords, spam and
   phishing are moved to Junk;
4. a reply is drafted (``email.draft``, never sent) for mail a person wrote that needs one;
5. invitations are summarised, not accepted.

A morning briefing (counts, the urgent items, the drafts waiting, what was refused and why) is the
run's answer; its counts (no sender or subject: outside text is not relayed) go to the owner's
chat direct message when the agent is granted ``chat.direct_message``. A run with nothing new asks the model nothing. Every action is a guarded
call: a refusal is reported in the briefing, never retried around.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from meshclaw.domain.errors import ToolFailed
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.calls import Calls
from meshclaw.runtime.workflows import register_workflow

from .evidence import History, Owner, evidence_of
from .followup import observe
from .labels import Verdict, item_text, judge_message, needs_draft

NAME = "inbox-triage"
MARK = "Triaged"
PAGE = 50  # messages per run: the action ceiling (about five guarded calls each)
JUNK = "Junk"


class Draft(BaseModel):
    """A short reply the owner can edit and send."""

    body: str = Field(max_length=1200, description="the reply text, plain, signed with the owner's first name")


DRAFT_INSTRUCTIONS = """Write a short, polite reply the owner can edit and send. Answer only what the mail asks;
when you do not know a fact, say the owner will check and come back. Never include links, addresses or
numbers that are not in the mail. Sign with the owner's first name. Plain text, at most 6 lines."""


@dataclass
class Briefing:
    """What one triage run did, for the owner's morning."""

    counts: dict[str, int] = field(default_factory=dict)
    urgent: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
    invitations: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    remaining: int = 0

    def in_counts(self) -> str:
        """The briefing in counts only: no sender or subject (outside text) is relayed to chat."""
        total = sum(self.counts.values())
        labels = ", ".join(f"{n} {label.replace('_', ' ')}" for label, n in sorted(self.counts.items(), key=lambda x: -x[1]))
        more = f"; {self.remaining} wait for the next run" if self.remaining else ""
        return (f"Inbox triage: {total} new message(s): {labels}. {len(self.urgent)} urgent, {len(self.drafts)} "
                f"draft(s) waiting for you, {len(self.invitations)} invitation(s) to answer, {len(self.refused)} "
                f"refused or held{more}. Details: `meshclaw runs show` for this run.")

    def text(self) -> str:
        total = sum(self.counts.values())
        if not total and not self.remaining:
            return "Inbox triage: nothing new."
        parts = [f"Inbox triage: {total} new message(s): " + ", ".join(
            f"{n} {label.replace('_', ' ')}" for label, n in sorted(self.counts.items(), key=lambda x: -x[1]))]
        if self.urgent:
            parts.append("Urgent:\n" + "\n".join(f"- {u}" for u in self.urgent))
        if self.drafts:
            parts.append("Drafts waiting for you:\n" + "\n".join(f"- {d}" for d in self.drafts))
        if self.invitations:
            parts.append("Invitations (not answered):\n" + "\n".join(f"- {i}" for i in self.invitations))
        if self.refused:
            parts.append("Refused or held:\n" + "\n".join(f"- {r}" for r in self.refused))
        if self.remaining:
            parts.append(f"{self.remaining} more message(s) wait for the next run.")
        return "\n\n".join(parts)


async def _history(calls: Calls, owner: str) -> History:
    try:
        sent = await calls.tool("email.list", folder="Sent", limit=100)
    except (PolicyDenied, ToolFailed):
        return History()
    contacts, ids = set(), set()
    for m in sent.get("messages", []):
        contacts.update(a.lower() for a in m.get("to", []) if a and a.lower() != owner)
        if m.get("message_id"):
            ids.add(m["message_id"])
    return History(contacts=frozenset(contacts), sent_ids=frozenset(ids))


async def _act(calls: Calls, brief: Briefing, what: str, name: str, **args: Any) -> bool:
    try:
        await calls.tool(name, **args)
        return True
    except PolicyDenied as e:
        brief.refused.append(f"{what}: {name} refused ({e.decision.reason})")
    except ToolFailed as e:
        brief.refused.append(f"{what}: {e}")
    return False


async def triage_one(calls: Calls, uid: int, owner: Owner, history: History) -> tuple[Verdict, Any]:
    """Label one message: evidence first, the model only when evidence does not decide (``judge_message``)."""
    raw = await calls.tool("email.raw", uid=uid)
    ev = evidence_of(str(raw["message"]).encode("utf-8", "surrogateescape"), owner, history)

    async def ask(schema: Any, instructions: str, content: str, examples: list, name: str) -> Any:
        return await calls.judge(schema, instructions=instructions, content=content, examples=examples, name=name)

    return await judge_message(ev, ask), ev


@register_workflow(NAME)
async def inbox_triage(calls: Calls) -> str:
    """Triage new INBOX mail (see the module docstring); returns the briefing text."""
    deps = calls.deps
    me = (deps.owner.email or "").lower()
    org = tuple(d.lower() for d in deps.config.organisation.domains)
    insiders = tuple(u.name for u in deps.config.users if u.id != deps.owner.id)
    owner = Owner(address=me, domains=org, insiders=insiders)
    brief = Briefing()
    await observe(calls)  # what the owner did with earlier runs' drafts and filings (followup.py)
    listing = await calls.tool("email.list", folder="INBOX", limit=PAGE, without_label=MARK)
    messages = sorted(listing.get("messages", []), key=lambda m: m["uid"])
    brief.remaining = max(0, int(listing.get("matching", len(messages))) - len(messages))
    history = await _history(calls, me) if messages else History()
    for m in messages:
        uid, subject = m["uid"], str(m.get("subject", ""))[:80]
        what = f"{m.get('from', '')}: {subject}"
        verdict, ev = await triage_one(calls, uid, owner, history)
        brief.counts[verdict.label] = brief.counts.get(verdict.label, 0) + 1
        if verdict.label == "urgent":
            brief.urgent.append(f"{what} ({verdict.reason})")
        if verdict.label in ("spam", "phishing"):
            brief.refused.append(f"{what}: {verdict.label}, moved to {JUNK} ({verdict.reason})")
        await _act(calls, brief, what, "email.flag", uid=uid, flag=verdict.label.replace("_", "-"))
        if ev.calendar:
            brief.invitations.append(f"{subject}: {verdict.reason}")
        elif needs_draft(verdict.label, ev):
            draft = await calls.judge(Draft, instructions=DRAFT_INSTRUCTIONS, content=item_text(ev, 2500),
                                      name="draft")
            if await _act(calls, brief, what, "email.draft", subject="", body=draft.body, reply_to_uid=uid):
                brief.drafts.append(what)
        await _act(calls, brief, what, "email.flag", uid=uid, flag=MARK)
        if verdict.label in ("spam", "phishing"):
            await _act(calls, brief, what, "email.move", uid=uid, to_folder=JUNK)
    text = brief.text()
    if messages and calls.granted("chat.direct_message"):
        await _act(calls, brief, "briefing", "chat.direct_message", user=deps.owner.id, text=brief.in_counts())
    return text
