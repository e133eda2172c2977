"""The guard: the single policy entry point that every tool call of every agent passes.

``decide`` is a pure function of the call and what the run has seen, so it gives the same answer
when a durable run replays, and it never fails open: any error in policy code is a deny.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from meshclaw.domain.config import Agent, Autonomy
from meshclaw.domain.decisions import Decision
from meshclaw.domain.effects import Effect, ToolSpec
from meshclaw.domain.grants import Grant

from meshclaw.domain.addresses import address_or_none

from . import content, payload
from .provenance import ProvenanceTracker, atoms, targets_in


@dataclass
class CallRequest:
    spec: ToolSpec
    args: dict[str, Any]
    agent: Agent
    provenance: ProvenanceTracker = field(default_factory=ProvenanceTracker)
    calls_this_run: int = 0  # earlier calls of this tool in this run
    calls_today: Callable[[], int] | int = 0  # earlier calls today (a callable: counted only if a grant needs it)
    approved: bool = False  # a person approved this call (exactly, or by a wider scope they chose)
    stopped: bool = False  # the kill switch is on for this agent
    provenance_policy: str = "ask"  # what a provenance violation becomes: "ask" or "deny"


def find_grant(agent: Agent, tool_name: str) -> Grant | None:
    toolset = tool_name.split(".", 1)[0]
    tg = agent.toolsets.get(toolset)
    if tg is None:
        return None
    for g in tg.grants:
        if g.tool == tool_name:
            return g
    return None


def decide(req: CallRequest) -> Decision:
    try:
        return _decide(req)
    except Exception as e:  # noqa: BLE001 - a policy bug must never let a call through
        return Decision.deny(f"policy error, denied for safety: {type(e).__name__}: {e}", "fail-closed")


def _decide(req: CallRequest) -> Decision:
    spec, agent = req.spec, req.agent
    if req.stopped:
        return Decision.deny(f"agent {agent.name} is stopped (kill switch)", "kill-switch")
    grant = find_grant(agent, spec.name)
    if grant is None:
        return Decision.deny(f"{spec.name} is not granted to {agent.name}", "deny-by-default")
    problem = grant.check_args(req.args)
    if problem:
        return Decision.deny(problem, "grant-condition")
    if grant.limit and grant.limit.per_run is not None and req.calls_this_run >= grant.limit.per_run:
        return Decision.deny(f"{spec.name}: limit of {grant.limit.per_run} per run reached", "rate-limit")
    if grant.limit and grant.limit.per_day is not None and _value(req.calls_today) >= grant.limit.per_day:
        return Decision.deny(f"{spec.name}: limit of {grant.limit.per_day} per day reached", "rate-limit")
    if spec.effect is Effect.READ:
        verdict = _egress(req)
        return verdict if verdict is not None else Decision.allow("read-only tool, granted", "grant")
    malformed = _malformed_target(req)
    if malformed is not None:
        return malformed
    if agent.autonomy is Autonomy.OBSERVE:
        return Decision.deny(f"{agent.name} only observes: {spec.name} was proposed, not executed", "autonomy-observe")
    if req.approved:
        return Decision.allow("approved by a person", "approval")
    if agent.autonomy is Autonomy.ASK:
        return Decision.ask(f"{agent.name} asks before every write ({spec.name})", "autonomy-ask")
    if grant.approval == "always":
        return Decision.ask(f"the grant for {spec.name} requires approval", "grant-approval")
    if spec.effect.consequential and not _no_outside_party(req):
        verdict = _provenance(req)
    else:
        verdict = _untrusted_write(req)
    if verdict is not None:
        return verdict
    return Decision.allow("granted, within conditions", "grant")


def _value(v: Callable[[], int] | int) -> int:
    return v() if callable(v) else v


def _make(req: CallRequest) -> Callable[[str, str], Decision]:
    return Decision.deny if req.provenance_policy == "deny" else Decision.ask


def _verdict(req: CallRequest, problems: list[tuple[str, str]]) -> Decision | None:
    """One decision for all problems found: the first one's rule, every value with where it came from."""
    if not problems:
        return None
    reasons = list(dict.fromkeys(reason for _, reason in problems))
    return _make(req)(f"{req.spec.name}: " + "; ".join(reasons), f"provenance-{problems[0][0]}")


def _egress(req: CallRequest) -> Decision | None:
    """A read that reaches outside must not leak what the run read, nor go where outside content pointed."""
    if not req.provenance.tainted:
        return None
    problems = content.egress(req.spec, req.args, req.provenance)
    if not problems:
        return None
    rule, _ = problems[0]
    return _make(req)(f"{req.spec.name}: " + "; ".join(r for _, r in problems) +
                      f" (the run has read untrusted content: {_seen(req)})", rule)


def _malformed_target(req: CallRequest) -> Decision | None:
    """A recipient or target holding an ``@`` must be exactly one well-formed address (``domain.addresses``):
    the guard and the connector then agree on where the call goes."""
    names = set(req.spec.sensitive_args)
    for name, value in req.args.items():
        candidates = atoms(value) if name in names else targets_in(value)
        for atom in candidates:
            if "@" in atom and not payload.is_text(atom) and not payload.URL.fullmatch(atom) \
                    and address_or_none(atom) is None:
                return Decision.deny(f"{req.spec.name}: {name}={atom!r} is not exactly one well-formed address",
                                     "malformed-address")
    return None


def _no_outside_party(req: CallRequest) -> bool:
    """A call that declares who it reaches and reaches nobody (every such argument given, and empty):
    a reminder with no guests. It is judged as a change to the owner's own workspace."""
    spec, args = req.spec, req.args
    if not spec.sensitive_args:
        return False
    if any(targets_in(v) for n, v in args.items() if n not in spec.sensitive_args):
        return False
    return all(n in args and args[n] in (None, "", [], ()) for n in spec.sensitive_args)


def _seen(req: CallRequest) -> str:
    return ", ".join(req.provenance.untrusted_origins()[:3])


def _provenance(req: CallRequest) -> Decision | None:
    """A consequential call must not be steered by untrusted content.

    Before the run has read anything untrusted, the model has only the owner's request in view, so
    any value it uses is the owner's. Afterwards each target — every sensitive argument, and any
    address or URL held in another argument, however nested — must trace to what the owner asked
    for in this run (see ``policy.provenance``): a value from untrusted content, a value nobody
    wrote, and a valid but unrequested target (a colleague from the directory the owner never
    named as a target, an id from a listing read after the mail) are all choices an injection could
    have made. A call that carries no target at all has nothing to check, so after untrusted content
    the choice to call it is suspect. Finally what the call carries must not be the outsider's
    payload (``policy.content``): their words verbatim, their links, or personal data the owner
    did not ask to send.
    """
    prov = req.provenance
    if not prov.tainted:
        return None
    traced = prov.trace(req.args, req.spec.sensitive_args)
    seen = _seen(req)
    problems: list[tuple[str, str]] = []
    for name, origins in traced.items():
        for o in origins:
            if o.trust == "untrusted":
                problems.append(("untrusted-arg", f"{name}={o.value!r} comes from untrusted content ({o.source})"))
            elif o.trust == "unknown":
                problems.append(("untraceable-arg", f"{name}={o.value!r} is not in the owner's request or the "
                                                    f"directory, and the run has read untrusted content ({seen})"))
            elif not o.intent:
                problems.append(("unrequested-target", f"{name}={o.value!r} is known ({o.source}) but the owner's "
                                                       f"request does not name it as a target, and the run has read "
                                                       f"untrusted content ({seen})"))
    verdict = _verdict(req, problems)
    if verdict is not None:
        return verdict
    if not any(traced.values()):
        return _make(req)(f"{req.spec.name} was proposed after the run read untrusted content ({seen})",
                          "provenance-tainted-context")
    return _verdict(req, content.payload_problems(req.spec, req.args, prov, reaches_others=True))


def _untrusted_write(req: CallRequest) -> Decision | None:
    """A change to the owner's own workspace must not store the outsider's payload.

    Only copies are stopped — a value or a passage of it word for word, a link from outside
    content — because the workspace is reversible and a note the model words itself is expected
    after reading mail (notes keep the label of the run that wrote them, so a later run reads
    them as what they are). The same holds for a call that reaches nobody (a reminder without
    guests): its content could still be the attacker's goal (an advert placed as a reminder).
    """
    prov = req.provenance
    if not prov.tainted:
        return None
    # Arguments the tool declares as outside content by design (stored labelled as such) are not copies.
    args = {k: v for k, v in req.args.items() if k not in req.spec.outside_content}
    problems: list[tuple[str, str]] = []
    for name, origins in prov.trace(args, tuple(a for a in req.spec.sensitive_args if a in args)).items():
        copied = next((o for o in origins if o.trust == "untrusted"), None)
        if copied is not None:
            problems.append(("untrusted-write", f"{name} copies untrusted content ({copied.source}) into a sensitive place"))
    problems += [("untrusted-write", reason)
                 for _, reason in content.payload_problems(req.spec, args, prov, reaches_others=False)]
    return _verdict(req, problems)
