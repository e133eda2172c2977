"""Following up earlier triage runs: what the owner did, in their own mail client, with what this agent
filed and drafted. Called at the start of each triage run (``workflow.py``), with guarded read calls only.

MeshClaw never sees the owner send a draft or drag a message back to INBOX in their mail client; the
mailbox shows it. For the drafts (``email.draft``) and filings (``email.move``) that earlier runs of
this agent made in the last ``LOOK_BACK`` (7 days, at most ``MAX_DRAFTS`` and ``MAX_FILED``, newest
first), read from the audit log, this step looks at the mailbox:

- a draft still in Drafts is waiting; one that is gone was **sent-unchanged** or **sent-edited** when a
  message in Sent is its copy (its Message-ID, or In-Reply-To/References naming the message it answers,
  or failing both the same subject to the same people) and the normalised bodies are equal or not
  (``edits.py``); else it was **discarded** (only when the Sent listing reaches back to the draft);
- a filed message found again in the folder it came from (same sender and subject in its newest 100,
  confirmed by its Message-ID) was **moved-back**; until then it counts as kept. The folder it was
  filed to is never read (see ``_filed``), so a message deleted from Junk is simply never found.

The message a draft answers and the message filed are known from the earlier run's own reads
(``email.raw``, kept in its durable checkpoints: ``runtime/recorded.py``). Each finding is recorded
once as an audit record of kind ``observed`` (key ``observed:<earlier run>:<call id>``, so a replay or
a later run never records it twice), in the observing run, naming the earlier run: ``usage_value.py``
derives outcomes from it and ``episodes.py`` the owner's corrections. The step spends at most
``MAX_CALLS`` reads (and a fifth of the run's tool-call ceiling); what it could not look at waits for
the next run. A refused or failed read ends nothing: the item waits. A rehearsal observes nothing.
"""

from __future__ import annotations

import ast
import email
import email.policy
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import getaddresses
from typing import Any

from meshclaw.connectors.email.compose import message_id_for
from meshclaw.domain.errors import ToolFailed, UsageError
from meshclaw.domain.runs import AuditKind
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.steps import durable_step

from .edits import describe_edit, own_words, same_body

LOOK_BACK = timedelta(days=7)
MAX_DRAFTS = 20  # drafts followed per run
MAX_FILED = 30  # filed messages followed per run
MAX_CALLS = 12  # guarded reads per run at most
MARK = "Triaged"
_RE = re.compile(r"^\s*((re|aw|sv|fwd?|wg)\s*:\s*)+", re.IGNORECASE)


def subject_key(subject: str) -> str:
    """A subject without reply/forward prefixes, case and extra spaces: "Re: RE: Plan" → "plan"."""
    return " ".join(_RE.sub("", subject or "").split()).lower()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _result_dict(record: Any) -> dict[str, Any]:
    """An audited call's result (stored as its printed form, at most 400 characters) as a dict, or {}."""
    text = (record.data or {}).get("result")
    if isinstance(text, dict):
        return text
    try:
        value = ast.literal_eval(text) if isinstance(text, str) and text.startswith("{") else {}
    except (ValueError, SyntaxError):
        value = {}
    return value if isinstance(value, dict) else {}


def _headers_of(raw: str) -> dict[str, Any]:
    msg = email.message_from_string(raw[:200_000], policy=email.policy.compat32)
    sender = getaddresses([str(msg.get("From", ""))])
    return {"message_id": str(msg.get("Message-ID", "")).strip(), "sender": (sender[0][1] if sender else "").lower(),
            "subject": " ".join(str(msg.get("Subject", "")).split())}


async def _earlier_reads(run_id: str) -> dict[str, dict[str, Any]]:
    """``"folder/uid"`` → the headers of each message run ``run_id`` read with email.raw (from its
    durable checkpoints); {} when they are not there (an older run, another process's store)."""
    try:
        from meshclaw.runtime.recorded import load_recorded_inputs

        recorded = await load_recorded_inputs(run_id)
    except Exception:  # noqa: BLE001 - no checkpoints: the item is followed by what the audit log says
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key, results in recorded.reads.items():
        tool, _, args = key.partition(" ")
        if tool != "email.raw" or not results:
            continue
        value = results[-1][0]
        args = json.loads(args)
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            out[f"{args.get('folder', 'INBOX')}/{args.get('uid')}"] = _headers_of(value["message"])
    return out


async def pending(store: Any, agent: str, owner: str, run_id: str, now: datetime, domain: str) -> list[dict[str, Any]]:
    """The earlier drafts and filings of ``agent`` (for ``owner``) not yet observed, newest first:
    plain dicts (they are a durable step's output). Drafts: kind, of_run, call_id, at, body, subject,
    to, uid (in Drafts), message_id (the draft's own: ``compose.message_id_for`` of its call, mail
    ``domain``), answers (headers of the message answered). Filed: kind, of_run, call_id, at,
    from_folder, to_folder, uid (in to_folder), label, message (headers of the message filed)."""
    since = now - LOOK_BACK
    settled = {(r.data.get("of_run"), r.data.get("call_id"))
               for r in store.audit.records(kind=AuditKind.OBSERVED.value, agent=agent, user_id=owner, since=since)}
    records = [r for r in store.audit.records(kind=AuditKind.CALL.value, agent=agent, user_id=owner, since=since)
               if r.verdict == "done" and r.tool in ("email.draft", "email.move") and r.run_id != run_id
               and (r.run_id, (r.data or {}).get("call_id")) not in settled]
    drafts = [r for r in records if r.tool == "email.draft"][-MAX_DRAFTS:]
    filed = [r for r in records if r.tool == "email.move"][-MAX_FILED:]
    reads: dict[str, dict[str, dict[str, Any]]] = {}
    flags: dict[str, list[Any]] = {}
    items: list[dict[str, Any]] = []
    for r in sorted(drafts + filed, key=lambda r: -r.seq):
        if r.run_id not in reads:
            reads[r.run_id] = await _earlier_reads(r.run_id)
        args, result = (r.data or {}).get("args") or {}, _result_dict(r)
        call_id = str((r.data or {}).get("call_id") or "")
        base = {"of_run": r.run_id, "call_id": call_id, "at": _aware(r.at).isoformat()}
        if r.tool == "email.draft":
            answers = reads[r.run_id].get(f"{args.get('folder', 'INBOX')}/{args.get('reply_to_uid')}", {})
            items.append({**base, "kind": "draft", "body": str(args.get("body", "")), "uid": result.get("uid"),
                          "message_id": message_id_for(f"{r.run_id}:{call_id}", domain),
                          "subject": str(result.get("subject") or args.get("subject") or ""),
                          "to": [str(a).lower() for a in result.get("to") or args.get("to") or []], "answers": answers})
        else:
            uid, source = args.get("uid"), args.get("folder", "INBOX")
            if r.run_id not in flags:
                flags[r.run_id] = [f for f in store.audit.records(run_id=r.run_id, kind=AuditKind.CALL.value)
                                   if f.tool == "email.flag" and f.verdict == "done"]
            label = next((str(a.get("flag")) for a in ((f.data or {}).get("args") or {} for f in flags[r.run_id])
                          if a.get("uid") == uid and a.get("flag") not in (None, "", MARK)), "")
            items.append({**base, "kind": "filed", "from_folder": source, "to_folder": args.get("to_folder"),
                          "uid": result.get("new_uid"), "label": label, "message": reads[r.run_id].get(f"{source}/{uid}", {})})
    return items


class _Reads:
    """Guarded read calls within a budget; a refusal, a failure or an empty budget is ``None``."""

    def __init__(self, calls: Any, budget: int):
        self.calls, self.left = calls, budget

    async def __call__(self, name: str, **args: Any) -> Any:
        if self.left <= 0:
            return None
        self.left -= 1
        try:
            return await self.calls.tool(name, **args)
        except (PolicyDenied, ToolFailed, UsageError):
            return None


def _covers(listing: dict[str, Any], uid: Any) -> bool:
    """Whether a folder listing (newest first, maybe cut) reaches back to ``uid``: then a uid missing
    from it is gone from the folder."""
    uids = [m["uid"] for m in listing.get("messages", [])]
    complete = int(listing.get("matching", len(uids))) <= len(uids)
    return complete or (isinstance(uid, int) and bool(uids) and uid >= min(uids))


def _reaches_back(listing: dict[str, Any], at: str) -> bool:
    """Whether a listing holds everything since ``at`` (ISO): complete, or its oldest message is older."""
    msgs = listing.get("messages", [])
    if int(listing.get("matching", len(msgs))) <= len(msgs):
        return True
    dates = [m.get("date") or "" for m in msgs]
    try:
        return bool(dates) and min(_aware(datetime.fromisoformat(d)) for d in dates if d) < datetime.fromisoformat(at)
    except ValueError:
        return False


def _body_of(raw: str) -> str:
    msg = email.message_from_string(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
    try:
        return str(part.get_content()) if part is not None else ""
    except (LookupError, ValueError):
        return ""


async def _drafts(read: _Reads, items: list[dict[str, Any]], folders: tuple[str, str]) -> list[dict[str, Any]]:
    drafts_folder, sent_folder = folders
    if not items:
        return []
    listing = await read("email.list", folder=drafts_folder, limit=100)
    if listing is None:
        return []
    here = listing.get("messages", [])
    waiting = {m.get("uid") for m in here} | {m.get("message_id") for m in here if m.get("message_id")}
    gone = [d for d in items if d["uid"] not in waiting and d["message_id"] not in waiting
            and _covers(listing, d["uid"] if isinstance(d["uid"], int) else None)]
    if not gone:
        return []
    sent = await read("email.list", folder=sent_folder, limit=100)
    if sent is None:
        return []
    found: list[dict[str, Any]] = []
    for d in gone:
        parent, to = d["answers"].get("message_id", ""), set(d["to"])
        candidates = [m for m in sent.get("messages", []) if m.get("message_id") == d["message_id"] or (
            subject_key(m.get("subject", "")) == subject_key(d["subject"])
            and (not to or to & {a.lower() for a in m.get("to", [])}))][:2]
        copy, unsure = None, False
        for m in candidates:
            got = await read("email.raw", uid=m["uid"], folder=sent_folder)
            if got is None:
                unsure = True  # not read (budget, refusal): look again next run
                break
            msg = email.message_from_string(got["message"], policy=email.policy.compat32)
            thread = f"{msg.get('Message-ID', '')} {msg.get('In-Reply-To', '')} {msg.get('References', '')}"
            if d["message_id"] in thread or not parent or parent in thread:
                copy = (m, got["message"])
                break
        if copy is not None:
            body = _body_of(copy[1])
            if same_body(d["body"], body):
                found.append(_finding(d, "sent-unchanged", "the owner sent the draft unchanged", sent_uid=copy[0]["uid"]))
            else:
                change = describe_edit(d["body"], body)
                found.append(_finding(d, "sent-edited", f"the owner edited the draft before sending: {change['summary']}",
                                      sent_uid=copy[0]["uid"], change=change))
        elif not unsure and _reaches_back(sent, d["at"]):
            found.append(_finding(d, "discarded", "the owner deleted the draft without sending it"))
    return found


async def _filed(read: _Reads, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Filed messages found again in the folder they came from. Only that folder is read, never the
    one filed to: a listing of Junk would put "Junk" among the values seen in outside content, and the
    guard would then ask before each later move to Junk in this run (it is a sensitive argument)."""
    found: list[dict[str, Any]] = []
    listings: dict[str, Any] = {}
    for f in items:
        sender, subject, wanted = (f["message"].get(k, "") for k in ("sender", "subject", "message_id"))
        if not sender or not wanted:
            continue  # the earlier run's read of it is not kept: nothing to recognise it by
        if f["from_folder"] not in listings:
            listings[f["from_folder"]] = await read("email.list", folder=f["from_folder"], limit=100)
        home = listings[f["from_folder"]]
        if home is None:
            continue
        alike = [m for m in home.get("messages", []) if sender in str(m.get("from", "")).lower()
                 and subject_key(m.get("subject", "")) == subject_key(subject)][:2]
        back = None
        for m in alike:
            got = await read("email.raw", uid=m["uid"], folder=f["from_folder"])
            if got is None:
                break  # not confirmed now: looked at again next run
            if _headers_of(got["message"])["message_id"] == wanted:
                back = m
                break
        if back is not None:
            domain = sender.rpartition("@")[2]
            found.append(_finding(f, "moved-back", f"the owner moved a message labelled {f['label'] or 'unlabelled'} "
                                  f"from {domain} from {f['to_folder']} back to {f['from_folder']}",
                                  now_uid=back["uid"], sender_domain=domain))
    return found


def _finding(item: dict[str, Any], finding: str, detail: str, **more: Any) -> dict[str, Any]:
    keep = {k: item[k] for k in ("kind", "of_run", "call_id", "at", "subject", "to", "label", "from_folder",
                                  "to_folder") if k in item}
    return {"item": keep, "finding": finding, "detail": detail[:300], **more}


def record(store: Any, deps: Any, tool: str, f: dict[str, Any]) -> int:
    """Append one finding as an ``observed`` audit record of this run (once: the key names the earlier
    call); returns its sequence number."""
    item = f["item"]
    return store.audit.append(f"observed:{item['of_run']}:{item['call_id']}", AuditKind.OBSERVED.value,
                              run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id, tool=tool,
                              verdict=f["finding"], reason=f["detail"],
                              data={"of_run": item["of_run"], "call_id": item["call_id"], **f})


async def observe(calls: Any) -> list[dict[str, Any]]:
    """Look at what the owner did with earlier runs' drafts and filings (module docstring); record each
    new finding; returns them (empty in a rehearsal, or when nothing earlier waits)."""
    deps = calls.deps
    store = deps.store
    if deps.rehearsal or store is None or deps.recorded is not None:
        return []
    now = _aware(deps.started_at or datetime.now(timezone.utc))
    settings = deps.settings("email")
    domain = str(settings.get("address") or deps.owner.email or "").rpartition("@")[2].lower()

    async def look() -> list[dict[str, Any]]:
        return await pending(store, deps.agent.name, deps.owner.id, deps.run_id, now, domain)

    items = await durable_step("followup:pending", look)
    if not items:
        return []
    folders = (str(settings.get("drafts_folder") or "Drafts"), str(settings.get("sent_folder") or "Sent"))
    read = _Reads(calls, min(MAX_CALLS, deps.agent.limits.tool_calls_per_run // 5))
    found = await _drafts(read, [i for i in items if i["kind"] == "draft"], folders)
    found += await _filed(read, [i for i in items if i["kind"] == "filed"])
    for f in found:
        record(store, deps, "email.draft" if f["item"]["kind"] == "draft" else "email.move", f)
    return found
