"""Alerts: after an executed call, a tool the agent never used before or a burst of calls; after an
approval request, a person asked more often than their daily approval budget.

Cheap in the common case (one count), and written inside the durable step, so a replayed run does
not alert twice. The rules themselves are pure (``policy/baseline.py``, ``policy/approvals.py``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from meshclaw.domain.runs import AlertEvent, AuditKind, RunEvent

if TYPE_CHECKING:
    from meshclaw.store.facade import Store

_USED_BEFORE: set[tuple[str, str, str]] = set()  # (store, agent, tool): known not to be a first use
_LAST_CHECK: dict[tuple[str, str, str], float] = {}
RECHECK_SECONDS = 5.0


def check_baseline(store: "Store", *, run_id: str, agent: str, owner_id: str, tool: str, key: str,
                   emit: Callable[[RunEvent], None], effect: str = "external") -> None:
    """Append an ``alert`` audit record (and emit it) for each deviation of this call from the agent's baseline.

    ``effect`` is the tool's effect class (``read``, ``write``, ``external``): a first use of a read
    tool is no alert (see ``policy/baseline.py``); a burst of any tool is."""
    from meshclaw.policy.baseline import BURST_FLOOR, deviations

    audit = store.audit
    seen_key = (store.url, agent, tool)
    maybe_first = seen_key not in _USED_BEFORE
    if not maybe_first and time.monotonic() - _LAST_CHECK.get(seen_key, 0.0) < RECHECK_SECONDS:
        return  # a burst is measured over an hour: looking again within seconds adds nothing
    _LAST_CHECK[seen_key] = time.monotonic()
    now = datetime.now(timezone.utc)
    last_hour = audit.count_calls(agent=agent, tool=tool, since=now - timedelta(hours=1))
    if not maybe_first and last_hour < BURST_FLOOR:
        return
    total = audit.count_calls(agent=agent, tool=tool, since=now - timedelta(days=3650)) if maybe_first else 2
    if total > 1:
        _USED_BEFORE.add(seen_key)
    found = deviations(
        agent, tool,
        earlier_runs=store.runs.count(agent=agent) - 1 if total == 1 else 0,
        total_calls=total,
        last_hour=last_hour,
        last_week=audit.count_calls(agent=agent, tool=tool, since=now - timedelta(days=7)) if last_hour >= BURST_FLOOR else last_hour,
        read=effect == "read",
    )
    for d in found:
        store.audit.append(f"{key}:alert:{d.kind}", AuditKind.ALERT.value, run_id=run_id, agent=agent, user_id=owner_id,
                           tool=tool, verdict=d.kind, reason=d.message)
        emit(AlertEvent(d.message))


def check_approval_fatigue(store: "Store", *, run_id: str, agent: str, person: str, approval_id: str, budget: int,
                           emit: Callable[[RunEvent], None]) -> str | None:
    """After a request to ``person`` was created: if they have been asked more than ``budget`` times
    since midnight UTC, mark the request (its notice is shown with it), emit an alert and audit one
    ``alert`` record per person, agent and day. Returns the notice, or None within budget.

    The request still waits for the person: fatigue never turns an ask into an allow."""
    from meshclaw.policy.approvals import fatigue_notice

    now = datetime.now(timezone.utc)
    asked = store.approvals.asked_since(person, now.replace(hour=0, minute=0, second=0, microsecond=0))
    notice = fatigue_notice(person, agent, asked, budget)
    if notice is None:
        return None
    store.approvals.set_notice(approval_id, notice)
    store.audit.append(f"approval-fatigue:{person}:{agent}:{now:%Y-%m-%d}", AuditKind.ALERT.value, run_id=run_id,
                       agent=agent, user_id=person, verdict="approval-fatigue", reason=notice,
                       data={"asked_today": asked, "budget": budget, "approval": approval_id})
    emit(AlertEvent(notice))
    return notice
