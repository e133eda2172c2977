"""Value: the outcomes each run produced, derived from the audit records of its tool calls and approvals.

Nothing is self-reported: an outcome exists because a guarded call was executed (audit kind ``call``,
verdict ``done``), a person answered a request for approval (kind ``approval``), or a later run saw in
the owner's mailbox what the owner did with a run's draft or filing (kind ``observed``, recorded by
``agents/inbox_triage/followup.py``: a draft sent unchanged or edited or discarded, a filed message
moved back; the owner does these in their own mail client, which MeshClaw never records). The table
``KINDS`` says, for each outcome kind, whether it counts as accepted (a person kept or used what the
agent did), the default minutes a person saves with it (``usage.minutes_saved`` overrides), and the
exact rule; ``meshclaw usage explain`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from meshclaw.domain.runs import AuditKind

LOOK_BACK = timedelta(days=7)  # a draft sent, or a message moved back, within this time still counts


@dataclass(frozen=True)
class OutcomeKind:
    name: str
    accepted: bool
    minutes: float  # default minutes saved per outcome
    rule: str


KINDS: dict[str, OutcomeKind] = {k.name: k for k in (
    OutcomeKind("draft_sent_unchanged", True, 6, "email.draft done, then either email.send done (any run of the "
                "same owner, within 7 days) to the same recipients and subject with the same body, or a later run "
                "observed (audit kind 'observed', finding 'sent-unchanged') the owner's copy in Sent: its "
                "Message-ID, or In-Reply-To/References naming the message the draft answers, or the same subject "
                "to the same people, with the same body once quoted text, signature and spacing are removed; "
                "counted once per draft, in the run that made the draft, at the time of the send or observation"),
    OutcomeKind("draft_sent_edited", True, 4, "as draft_sent_unchanged, but the body sent differs from the draft "
                "(observed finding 'sent-edited')"),
    OutcomeKind("draft_unsent", False, 0, "email.draft done and no matching email.send nor observed send (yet); "
                "includes drafts observed deleted unsent (finding 'discarded')"),
    OutcomeKind("message_sent", True, 3, "email.send or chat.post done, not a sent draft, in a run not started by "
                "a schedule"),
    OutcomeKind("report_sent", True, 15, "email.send or chat.post done in a scheduled (cron) run"),
    OutcomeKind("message_filed", True, 1, "email.move done, and no later recorded email.move of it back to the "
                "folder it came from within 7 days, nor an observation (finding 'moved-back') that the owner moved "
                "it back in their mail client"),
    OutcomeKind("filed_moved_back", False, 0, "email.move done, then moved back to the folder it came from: by a "
                "recorded email.move, or observed by a later run (finding 'moved-back': the message, found by "
                "sender, subject and Message-ID, is gone from the folder it was filed to and back in the one it "
                "came from); counted at the time of the first move"),
    OutcomeKind("meeting_booked", True, 10, "calendar.create done"),
    OutcomeKind("invitation_answered", True, 2, "calendar.respond done"),
    OutcomeKind("approval_granted", True, 0, "a request for approval answered 'approved' (the call then runs)"),
    OutcomeKind("approval_denied", False, 0, "a request for approval answered 'denied'"),
    OutcomeKind("deployment_rolled_back", True, 30, "a *.rollback call done within 60 minutes of the deployment "
                "call (*.start or *.deploy) it undoes"),
    OutcomeKind("rollback_late", True, 5, "a *.rollback call done more than 60 minutes after the deployment"),
    OutcomeKind("note_saved", True, 1, "notes.add done"),
)}


@dataclass(frozen=True)
class Outcome:
    kind: str
    run_id: str
    user_id: str
    agent: str
    at: datetime


def minutes_table(settings: Any) -> dict[str, float]:
    """Minutes saved per outcome kind: the defaults of ``KINDS``, overridden by ``usage.minutes_saved``."""
    table = {k.name: k.minutes for k in KINDS.values()}
    table.update(dict(getattr(settings, "minutes_saved", {}) or {}))
    return table


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def earlier(at: datetime, span: timedelta) -> datetime:
    """``at - span``, or the first moment of the year 1 (UTC) when that reaches before it: a report may
    start on 0001-01-01, and the records read before its start simply begin there."""
    try:
        return at - span
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)


def derive(store: Any, user_ids: Iterable[str] | None, since: datetime, until: datetime) -> list[Outcome]:
    """The outcomes of runs of ``user_ids``' agents (None: everyone's) whose deciding record falls in
    ``[since, until)``; records up to 7 days before ``since`` and up to now are read to match drafts
    with sends and moves with moves back."""
    users = None if user_ids is None else list(user_ids)
    start = earlier(since, LOOK_BACK)
    records = [r for kind in (AuditKind.CALL.value, AuditKind.APPROVAL.value, AuditKind.OBSERVED.value)
               for r in store.audit.records(kind=kind, since=start, user_ids=users)]
    records.sort(key=lambda r: r.seq)
    # What later runs saw the owner do with a call's work: (run id, call id) -> finding.
    observed = {(str((r.data or {}).get("of_run")), str((r.data or {}).get("call_id"))): r.verdict
                for r in records if r.kind == AuditKind.OBSERVED.value}
    scheduled = {r.id for r in store.runs.list(user_ids=users, since=earlier(start, LOOK_BACK), limit=1_000_000)
                 if (r.trigger or "").startswith("cron")}
    found: list[Outcome] = []
    drafts: list[tuple[Any, bool]] = []  # [record, matched]
    moves: list[list[Any]] = []  # [record, moved back?]
    deploys: dict[tuple[str, str], datetime] = {}

    def add(kind: str, r: Any) -> None:
        found.append(Outcome(kind, r.run_id or "", r.user_id or "", r.agent or "", _aware(r.at)))

    for r in records:
        args = (r.data or {}).get("args") or {}
        if r.kind == AuditKind.OBSERVED.value:
            _observed(r, drafts, found)
            continue
        if r.kind == AuditKind.APPROVAL.value:
            if r.verdict in ("approved", "denied"):
                add("approval_granted" if r.verdict == "approved" else "approval_denied", r)
            continue
        if r.verdict != "done" or not r.tool:
            continue
        tool, action = r.tool, r.tool.rsplit(".", 1)[-1]
        if tool == "email.draft":
            drafts.append([r, False])
        elif tool in ("email.send", "chat.post"):
            match = None if tool != "email.send" else next(  # a chat post never sends a mail draft
                (d for d in drafts if not d[1] and d[0].user_id == r.user_id and _same_message(d[0], args)), None)
            if match is not None:
                match[1] = True
                body_same = ((match[0].data or {}).get("args") or {}).get("body") == args.get("body")
                add("draft_sent_unchanged" if body_same else "draft_sent_edited", r)
            else:
                add("report_sent" if r.run_id in scheduled else "message_sent", r)
        elif tool == "email.move":
            back = next((m for m in moves if not m[1] and _moves_back(m[0], args)), None)
            if back is not None:
                back[1] = True  # undoing a move is not an outcome of its own
            else:
                moves.append([r, observed.get(_call_key(r)) == "moved-back"])
        elif tool == "calendar.create":
            add("meeting_booked", r)
        elif tool == "calendar.respond":
            add("invitation_answered", r)
        elif tool == "notes.add":
            add("note_saved", r)
        elif action in ("start", "deploy") and tool.split(".")[0] in ("deploy", "deployments", "release"):
            deploys[(tool.split(".")[0], str(args.get("service", "")))] = _aware(r.at)
        elif action == "rollback":
            when = deploys.get((tool.split(".")[0], str(args.get("service", ""))))
            in_time = when is not None and _aware(r.at) - when <= timedelta(minutes=60)
            add("deployment_rolled_back" if in_time else "rollback_late", r)
    for r, matched in drafts:
        if not matched:
            add("draft_unsent", r)
    for r, moved_back in moves:
        add("filed_moved_back" if moved_back else "message_filed", r)
    return [o for o in found if since <= o.at < until]


def _call_key(r: Any) -> tuple[str, str]:
    return str(r.run_id), str((r.data or {}).get("call_id"))


def _observed(r: Any, drafts: list[Any], found: list[Outcome]) -> None:
    """An observed send of a draft: its outcome (in the draft's run), unless a recorded email.send
    already matched that draft; a draft observed before its own record is in the window still counts."""
    if r.verdict not in ("sent-unchanged", "sent-edited"):
        return  # moved-back marks its move (above); discarded leaves the draft unsent
    key = (str((r.data or {}).get("of_run")), str((r.data or {}).get("call_id")))
    match = next((d for d in drafts if _call_key(d[0]) == key), None)
    if match is not None:
        if match[1]:
            return
        match[1] = True
    kind = "draft_sent_unchanged" if r.verdict == "sent-unchanged" else "draft_sent_edited"
    found.append(Outcome(kind, key[0], r.user_id or "", r.agent or "", _aware(r.at)))


def _same_message(draft: Any, sent_args: dict[str, Any]) -> bool:
    """Whether ``email.send(**sent_args)`` sends the drafted mail: a reply draft only by a send replying to
    the same message; otherwise the same subject (ignoring "Re: ") to the same recipients, and never two
    mails that both have no subject and no recipients."""
    d = (draft.data or {}).get("args") or {}
    if d.get("reply_to_uid") is not None or sent_args.get("reply_to_uid") is not None:
        return (d.get("reply_to_uid") == sent_args.get("reply_to_uid")
                and d.get("folder", "INBOX") == sent_args.get("folder", "INBOX"))
    if not str(d.get("subject") or "").strip() and not d.get("to"):
        return False
    to = sorted(sent_args.get("to") or [])
    drafted_to = sorted(d.get("to") or ((draft.data or {}).get("result") or {}).get("to") or []) if isinstance(
        (draft.data or {}).get("result"), dict) else sorted(d.get("to") or [])
    subject = str(sent_args.get("subject", "")).removeprefix("Re: ").strip()
    return subject == str(d.get("subject", "")).removeprefix("Re: ").strip() and (not drafted_to or to == drafted_to)


def _moves_back(first: Any, args: dict[str, Any]) -> bool:
    a = (first.data or {}).get("args") or {}
    source, target = a.get("folder", "INBOX"), a.get("to_folder")
    if args.get("folder", "INBOX") != target or args.get("to_folder") != source:
        return False
    result = (first.data or {}).get("result")
    uids = {a.get("uid")} | ({result.get("uid"), result.get("new_uid")} if isinstance(result, dict) else set())
    return args.get("uid") in uids
