"""Episodes: the compact record each finished run leaves for the owner's memory.

An episode holds the task, how the run ended, its answer (shortened), the decisions on its calls
(tool, verdict, reason) and the owner's corrections that the records show: an approval denied (a
rollback refused, when the call was a ``*.rollback``), an approval answered with a note, a run the
owner cancelled, and what the owner did later in their own mail client with an earlier run's work (a
draft edited before sending, a draft discarded, a filed message moved back). Those later acts are
seen by the next run of the agent (audit kind ``observed``, ``agents/inbox_triage/followup.py``), so
they belong to that run's episode, naming the earlier run. Its ``trust`` is the run's provenance: "trusted" only when the
run read nothing an outsider could have written; otherwise "untrusted", naming what it read, and
whatever is learnt from it is only proposed to the owner (``consolidate.py``).

Consolidation runs themselves, and rehearsals, leave no episode (nothing they did was the owner's
work; OpenClaw likewise keeps its own dreaming sessions out of what it ingests).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from meshclaw.domain.runs import AuditKind
from meshclaw.store.memory import EpisodeRecord

from .embeddings import embed, to_bytes

log = logging.getLogger(__name__)
DREAM_WORKFLOW = "memory.dream"


OBSERVED_CORRECTIONS = {"sent-edited": "draft-edited", "discarded": "draft-discarded", "moved-back": "label-moved-back"}


def corrections_of(store: Any, run_id: str, status: str, error: str | None) -> list[dict[str, str]]:
    """What the owner said no to or changed, as ``[{"kind", "detail"}]`` (plus ``"of_run"`` for what
    this run observed of an earlier run's work), from run ``run_id``'s approvals, its ending and its
    ``observed`` audit records. Kinds: approval-denied, rollback-refused (a denied ``*.rollback``),
    approved-with-change, run-cancelled, draft-edited (what changed: shorter, another greeting, the
    first changed sentence), draft-discarded, label-moved-back (label, sender domain, folder → folder)."""
    from sqlalchemy import select

    from meshclaw.store.tables import Approval

    out: list[dict[str, str]] = []
    with store.db.session() as s:
        approvals = list(s.scalars(select(Approval).where(Approval.run_id == run_id).order_by(Approval.created_at)))
    for a in approvals:
        args = ", ".join(f"{k}={str(v)[:60]}" for k, v in list((a.args or {}).items())[:4])
        if a.status == "denied" and (a.tool or "").endswith(".rollback"):
            out.append({"kind": "rollback-refused",
                        "detail": f"the owner refused the rollback {a.tool}({args})" + (f": {a.note}" if a.note else "")})
        elif a.status == "denied":
            out.append({"kind": "approval-denied",
                        "detail": f"the owner denied {a.tool}({args})" + (f": {a.note}" if a.note else "")})
        elif a.status == "approved" and a.note:
            out.append({"kind": "approved-with-change", "detail": f"the owner approved {a.tool} with a change: {a.note}"})
    if status == "cancelled":
        out.append({"kind": "run-cancelled", "detail": f"the owner cancelled the run: {error or ''}"[:300]})
    for r in store.audit.records(run_id=run_id, kind=AuditKind.OBSERVED.value, limit=200):
        kind = OBSERVED_CORRECTIONS.get(r.verdict or "")
        if kind is not None:
            earlier = str((r.data or {}).get("of_run") or "")
            out.append({"kind": kind, "of_run": earlier, "detail": f"{r.reason or kind} (work of run {earlier})"[:400]})
    return out


def decisions_of(store: Any, run_id: str) -> list[dict[str, str]]:
    """The run's decided calls: [{"tool", "verdict", "reason"}], in order, at most 50."""
    out = []
    for r in store.audit.records(run_id=run_id, limit=500):
        if r.kind in (AuditKind.CALL.value, AuditKind.CAPTURED.value) or (
                r.kind == AuditKind.DECISION.value and r.verdict != "allow"):
            out.append({"tool": r.tool or "", "verdict": r.verdict or "", "reason": (r.reason or "")[:200]})
    return out[:50]


def record_episode(store: Any, run: Any, deps: Any, status: str, output: str | None, error: str | None) -> int | None:
    """Store the episode of a finished run (once per run id); returns its id, or None when the run
    leaves none (a consolidation, a rehearsal). Never raises: a failure is logged and the run's
    outcome stands."""
    try:
        if run.rehearsal or deps.agent.workflow == DREAM_WORKFLOW:
            return None
        tainted = bool(deps.provenance.tainted)
        origins = ", ".join(deps.provenance.untrusted_origins()[:3]) if tainted else ""
        summary = (output or error or "").strip()
        ep = EpisodeRecord(run_id=run.id, owner=deps.owner.id, agent=deps.agent.name,
                           at=run.created_at or datetime.now(timezone.utc), trigger=run.trigger, task=run.task,
                           outcome=status, summary=summary[:1200], decisions=decisions_of(store, run.id),
                           corrections=corrections_of(store, run.id, status, error),
                           trust="untrusted" if tainted else "trusted", origins=origins)
        vector = embed([ep.text()])[0]
        episode_id, _ = store.memory.add_episode(EpisodeRecord(**{**ep.__dict__, "embedding": to_bytes(vector)}))
        return episode_id
    except Exception as e:  # noqa: BLE001 - memory must never fail a run
        log.warning("run %s left no episode: %s", getattr(run, "id", "?"), e)
        return None
