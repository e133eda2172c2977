"""Which items of a week go into the owner's status report, and the report's text: pure, no I/O.

    compose(Week(owner=ReportOwner(...), since=..., now=..., sent=[...], events=[...], chat=[...], services=[...]))
    → Report(body="...", withheld=[...])

Inputs are the tools' own shapes (``email.list`` of Sent, ``calendar.list``, ``chat.history``,
``deploy.services``); a source that was not read is None. What is listed, and what never is:

- mail: what the owner sent this week (their own address in From: a delegate's mail is theirs), one
  line per conversation (Re:/Fwd: folded, a count when several); never an automatic reply, never mail
  the owner marked private or personal (an IMAP keyword), never mail that went only to addresses
  outside the work domains (the organisation's, ``options.work_domains`` and those of this week's
  meeting attendees) — that is counted, not named, since it may be private;
- meetings: events this week with at least one other person, that the owner organised, accepted or
  tentatively accepted; never cancelled, declined or unanswered ones, all-day entries, or blocks with
  nobody else (a dentist appointment);
- chat: how many messages the owner's own chat accounts posted this week (other people's are not theirs);
- deployments: services whose running version went live this week ("deployed X (was Y)"), services
  not running; the others in one "unchanged" line.

Text that addresses an AI assistant (``inbox_triage.labels.ASSISTANT_DIRECTED``) is never copied into
the report, wherever it sits (a subject another person chose, a meeting title): it is withheld and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from meshclaw.agents.inbox_triage.labels import ASSISTANT_DIRECTED

PRIVATE_WORDS = ("private", "personal", "$private", "$personal")
AUTO_REPLY = re.compile(r"^\s*(automatic reply|auto(matic)?[- ]?reply|out of (the )?office|abwesenheit)\b", re.I)
PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg)\s*:\s*)+", re.I)
MAX_LINES = 15


@dataclass(frozen=True)
class ReportOwner:
    """Whose week it is: name, address, the organisation's domains (lower-case), their chat account ids,
    and further work domains (``options.work_domains``)."""

    name: str
    address: str
    org_domains: tuple[str, ...]
    chat_ids: frozenset[str] = frozenset()
    work_domains: tuple[str, ...] = ()


@dataclass
class Week:
    """One week's sources as the tools return them; None: not read (the reason is in ``skipped``)."""

    owner: ReportOwner
    since: datetime
    now: datetime
    sent: list[dict] | None = None
    events: list[dict] | None = None
    chat: list[dict] | None = None
    services: list[dict] | None = None
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """The draft's body and what was deliberately left out (one line each, no outside text)."""

    body: str
    withheld: tuple[str, ...]


def when(value: Any, zone: Any) -> datetime | None:
    """An RFC 5322 or ISO 8601 time as an aware datetime (naive ones in ``zone``); None when unreadable."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return at if at.tzinfo else at.replace(tzinfo=zone)


def _in_week(value: Any, week: Week) -> bool:
    at = when(value, week.since.tzinfo)
    return at is not None and week.since <= at <= week.now


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower()


def _injected(text: str) -> bool:
    return bool(ASSISTANT_DIRECTED.search(text or ""))


def meetings(week: Week) -> list[dict]:
    """This week's meetings the owner took part in (module docstring's rules)."""
    out = []
    for e in week.events or []:
        if str(e.get("status", "")).lower() == "cancelled" or e.get("all_day"):
            continue
        if str(e.get("my_answer", "")).lower() in ("declined", "needs-action"):
            continue
        others = [a for a in e.get("attendees", []) if "@" in str(a) and parseaddr(str(a))[1].lower()
                  != week.owner.address.lower()]
        if not others and not e.get("organizer"):
            continue
        if not _in_week(e.get("start"), week):
            continue
        out.append(e)
    return out


def work_domains(week: Week, held: list[dict]) -> set[str]:
    """The organisation's domains, ``options.work_domains``, and the domains of this week's meeting attendees."""
    found = {d.lower() for d in week.owner.org_domains + week.owner.work_domains}
    for e in held:
        found.update(_domain(str(a)) for a in e.get("attendees", []) if "@" in str(a))
    return found - {""}


def _mail_lines(week: Week, work: set[str], withheld: list[str]) -> tuple[list[str], int]:
    me = week.owner.address.lower()
    private = outside = automatic = injected = 0
    threads: Counter[str] = Counter()
    first: dict[str, str] = {}
    for m in week.sent or []:
        if not _in_week(m.get("date"), week):
            continue
        sender = parseaddr(str(m.get("from", "")))[1].lower()
        if sender and sender != me:
            continue  # someone else's mail in the owner's Sent (a delegate): not the owner's work
        subject = str(m.get("subject", "")).strip() or "(no subject)"
        if any(str(w).lower() in PRIVATE_WORDS for w in m.get("labels", [])):
            private += 1
            continue
        if AUTO_REPLY.match(subject):
            automatic += 1
            continue
        to = [_domain(str(a)) for a in m.get("to", []) if "@" in str(a)]
        if to and not any(d in work for d in to):
            outside += 1
            continue
        if _injected(subject):
            injected += 1
            continue
        key = PREFIX.sub("", subject).strip().lower()
        threads[key] += 1
        first.setdefault(key, PREFIX.sub("", subject).strip())
    if private:
        withheld.append(f"{private} sent mail(s) you marked private")
    if outside:
        withheld.append(f"{outside} sent mail(s) only to addresses outside your work domains (perhaps private)")
    if automatic:
        withheld.append(f"{automatic} automatic reply(s)")
    if injected:
        withheld.append(f"{injected} subject(s) that address an AI assistant")
    lines = [f"- {first[k]}" + (f" ({n} mails)" if n > 1 else "") for k, n in threads.items()]
    return lines, sum(threads.values())


def _meeting_lines(held: list[dict], withheld: list[str]) -> list[str]:
    titles: Counter[str] = Counter()
    dates: dict[str, str] = {}
    injected = 0
    for e in held:
        title = str(e.get("title", "")).strip() or "(untitled)"
        if _injected(title):
            injected += 1
            continue
        titles[title] += 1
        dates.setdefault(title, str(e.get("start", ""))[:10])
    if injected:
        withheld.append(f"{injected} meeting title(s) that address an AI assistant")
    return [f"- {t} ({dates[t]})" if n == 1 else f"- {t} ({n} times)" for t, n in titles.items()]


def _deploy_lines(week: Week) -> list[str]:
    changed, unchanged = [], []
    for s in week.services or []:
        name, state = s.get("service", "?"), s.get("state", "unknown")
        live = s.get("deployed_at") or (s.get("since") if state == "running" else None)
        if state != "running":
            changed.append(f"- {name}: {s.get('version')} is {state}")
        elif _in_week(live, week):
            changed.append(f"- {name}: deployed {s.get('version')} (was {s.get('previous_version') or '-'})")
        else:
            unchanged.append(str(name))
    if unchanged:
        changed.append("- unchanged this week: " + ", ".join(unchanged))
    return changed


def compose(week: Week) -> Report:
    """The report's body and what was withheld (module docstring). Pure."""
    withheld: list[str] = []
    sections: list[str] = []
    held = meetings(week)
    if week.sent is not None:
        lines, n = _mail_lines(week, work_domains(week, held), withheld)
        sections.append(f"Mail I sent ({n}):\n" + ("\n".join(lines[:MAX_LINES]) or "- none"))
    if week.events is not None:
        lines = _meeting_lines(held, withheld)
        sections.append(f"Meetings ({len(held) - sum(1 for e in held if _injected(str(e.get('title', ''))))}):\n"
                        + ("\n".join(lines[:MAX_LINES]) or "- none"))
    if week.chat is not None:
        own = [m for m in week.chat if m.get("author_id") in week.owner.chat_ids and _in_week(m.get("sent_at"), week)]
        sections.append(f"Team channel: {len(own)} message(s) from me this week")
    if week.services is not None:
        sections.append("Deployments:\n" + ("\n".join(_deploy_lines(week)) or "- none"))
    body = (f"Status, week of {week.since:%d %B} to {week.now:%d %B %Y}\n\n" + "\n\n".join(sections)
            + ("\n\n(Left out: " + "; ".join(withheld) + ")" if withheld else "")
            + ("\n\n(Not included: " + "; ".join(week.skipped) + ")" if week.skipped else "")
            + f"\n\n{week.owner.name.split()[0] if week.owner.name else ''}")
    return Report(body=body, withheld=tuple(withheld))
