"""What an approval covers: one key for agent runs and the library alike, and the grants a person made.

A person who approves a call approves exactly that call: the key is the tool's name and a
SHA-256 digest of *all* its arguments in canonical JSON, so another body to the same person,
one more recipient, or any later call of a tool without sensitive arguments is a different key,
and a long argument is never cut short.

A person may choose a wider scope explicitly, at the time of approving:

- ``"targets"`` covers every call of the tool with the same recipients and targets: the values of
  its sensitive arguments *and* every address or URL held anywhere else in its arguments (a
  ``bcc`` nested in ``options`` is a recipient too), so it never covers a target that was not
  shown. A tool that declares no sensitive arguments and holds no target has no such scope:
  ``"targets"`` is then ``"call"``.
- A grant (``ApprovalGrant``) records that wider choice for agent runs: what it matches
  (``"arguments"``: the exact key; ``"recipient"``: the targets key), and for how long: the run
  it was given in, or until a time. ``covering_grant`` is pure: the runtime passes the grants
  valid at the call's time and records the result, so a replayed run decides the same.

Approval fatigue: a person asked more than their daily budget is still asked (an ask is never
turned into an allow), but the request and an alert say so (``fatigue_notice``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Literal

from meshclaw.domain.effects import ToolSpec

from .values import targets_in

Scope = Literal["call", "targets"]
SCOPES: tuple[str, ...] = ("call", "targets")
# What a person may choose when approving in a run: this exact call, identical calls, or the same
# recipients/targets (each either for this run or for a stated time).
ANSWER_SCOPES: tuple[str, ...] = ("call", "arguments", "recipient")


def _digest(values: Any) -> str:
    material = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def targets_of(spec: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
    """The recipients and targets of a call, as a person is shown them: each sensitive argument's
    value, and (under ``"+other"``) every address or URL held in any other argument, sorted."""
    shown: dict[str, Any] = {n: args.get(n) for n in spec.sensitive_args}
    other = sorted({t for k, v in args.items() if k not in spec.sensitive_args for t in targets_in(v)})
    if other:
        shown["+other"] = other
    return shown


def approval_key(spec: ToolSpec, args: dict[str, Any], scope: Scope = "call") -> str:
    """``"<tool>:<sha256 hex>"`` of all arguments (``scope="call"``), or
    ``"<tool>[targets]:<sha256 hex>"`` of its targets (``targets_of``; ``scope="targets"``).

    Raises ValueError for an unknown scope.
    """
    if scope not in SCOPES:
        raise ValueError(f"approval scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if scope == "targets":
        shown = targets_of(spec, args)
        if shown:
            return f"{spec.name}[targets]:{_digest(shown)}"
    return f"{spec.name}:{_digest(dict(args))}"


def target_key(spec: ToolSpec, args: dict[str, Any]) -> str | None:
    """The targets-scope key of a call, or None when the call has no recipient or target to name."""
    return approval_key(spec, args, "targets") if targets_of(spec, args) else None


def approval_keys(spec: ToolSpec, args: dict[str, Any]) -> tuple[str, ...]:
    """Every key whose approval would cover this call: the exact call's, then the targets-scope one."""
    keys = [approval_key(spec, args, "call")]
    wider = target_key(spec, args)
    if wider is not None:
        keys.append(wider)
    return tuple(keys)


def is_approved(spec: ToolSpec, args: dict[str, Any], approved: set[str]) -> bool:
    """Did a person approve this call, exactly or by an explicit wider scope?"""
    return any(k in approved for k in approval_keys(spec, args))


@dataclass(frozen=True)
class ApprovalGrant:
    """A wider approval a person chose: ``key`` (an ``approval_key``) for ``agent``, within ``run_id``
    (None: any run) from ``created_at`` until ``expires_at`` (None: the run's end) unless revoked."""

    id: str
    agent: str
    tool: str
    scope: str  # "arguments" | "recipient"
    key: str
    created_at: datetime
    run_id: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        """In force at ``at``: given, not yet expired, not revoked."""
        if self.created_at > at:
            return False
        if self.expires_at is not None and self.expires_at <= at:
            return False
        return self.revoked_at is None or self.revoked_at > at


def covering_grant(spec: ToolSpec, args: dict[str, Any], grants: Iterable[ApprovalGrant], *, agent: str,
                   run_id: str, at: datetime) -> ApprovalGrant | None:
    """The first grant that covers this call of ``agent`` in run ``run_id`` at time ``at``, or None.

    A grant covers a call when it is valid at ``at``, is this agent's, is for this run (or for any
    run until it expires), and its key is the call's exact key (``"arguments"``) or its targets key
    (``"recipient"``): a different recipient or target is never covered.
    """
    exact = approval_key(spec, args, "call")
    wider = target_key(spec, args)
    for g in grants:
        if g.agent != agent or g.tool != spec.name or not g.valid_at(at):
            continue
        if g.run_id is not None and g.run_id != run_id:
            continue
        if g.run_id is None and g.expires_at is None:
            continue  # a grant beyond one run must end: an unbounded one is never honoured
        if (g.scope == "arguments" and g.key == exact) or (g.scope == "recipient" and wider is not None and g.key == wider):
            return g
    return None


def fatigue_notice(person: str, agent: str, asked_today: int, budget: int) -> str | None:
    """The words shown with a request once ``person`` has been asked more than ``budget`` times today
    (``asked_today`` counts this request), or None within budget. The request still waits for them."""
    if asked_today <= budget:
        return None
    return (f"{person} has been asked {asked_today} times today, over the approval budget of {budget}: "
            f"{agent} may be asking too often (this request still waits for a person; nothing is approved automatically)")
