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

from .provenance import ProvenanceTracker


@dataclass
class CallRequest:
    spec: ToolSpec
    args: dict[str, Any]
    agent: Agent
    provenance: ProvenanceTracker = field(default_factory=ProvenanceTracker)
    calls_this_run: int = 0  # earlier calls of this tool in this run
    calls_today: Callable[[], int] | int = 0  # earlier calls today (a callable: counted only if a grant needs it)
    approved: bool = False  # a person approved exactly this call
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
        return Decision.allow("read-only tool, granted", "grant")
    if agent.autonomy is Autonomy.OBSERVE:
        return Decision.deny(f"{agent.name} only observes: {spec.name} was proposed, not executed", "autonomy-observe")
    if req.approved:
        return Decision.allow("approved by a person", "approval")
    if agent.autonomy is Autonomy.ASK:
        return Decision.ask(f"{agent.name} asks before every write ({spec.name})", "autonomy-ask")
    if grant.approval == "always":
        return Decision.ask(f"the grant for {spec.name} requires approval", "grant-approval")
    if spec.effect.consequential:
        verdict = _provenance(req)
        if verdict is not None:
            return verdict
    elif spec.sensitive_args:
        verdict = _untrusted_write(req)
        if verdict is not None:
            return verdict
    return Decision.allow("granted, within conditions", "grant")


def _value(v: Callable[[], int] | int) -> int:
    return v() if callable(v) else v


def _provenance(req: CallRequest) -> Decision | None:
    """A consequential call must not be steered by untrusted content.

    Before the run has read anything untrusted, the model has only the owner's request in view, so
    any value it uses is the owner's. Afterwards each sensitive argument must trace to what the
    owner asked for in this run (see ``policy.provenance``): a value from untrusted content, a value
    nobody wrote, and a valid but unrequested target (a colleague from the directory the owner never
    named, an id from a listing read after the mail) are all choices an injection could have made.
    A call that carries none of its sensitive arguments has no target to check, so after untrusted
    content it is judged like a tool without sensitive arguments: the choice to call it is suspect.
    Finally, a call must not carry an outsider's words verbatim (``relayed``) to an intended target:
    that is how an injection turns an agent into a relay for phishing or for untrusted documents.
    """
    prov = req.provenance
    traced = prov.trace(req.args, req.spec.sensitive_args)
    make = Decision.deny if req.provenance_policy == "deny" else Decision.ask
    seen = ", ".join(prov.untrusted_origins()[:3])
    for name, origins in traced.items():
        for o in origins:
            if o.trust == "untrusted":
                return make(f"{req.spec.name}: {name}={o.value!r} comes from untrusted content ({o.source})", "provenance-untrusted-arg")
            if not prov.tainted:
                continue
            if o.trust == "unknown":
                return make(
                    f"{req.spec.name}: {name}={o.value!r} is not in the owner's request or the directory, "
                    f"and the run has read untrusted content ({seen})",
                    "provenance-untraceable-arg",
                )
            if not o.intent:
                return make(
                    f"{req.spec.name}: {name}={o.value!r} is known ({o.source}) but the owner's request does not "
                    f"name it, and the run has read untrusted content ({seen})",
                    "provenance-unrequested-target",
                )
    if prov.tainted and not any(traced.values()):
        return make(f"{req.spec.name} was proposed after the run read untrusted content ({seen})", "provenance-tainted-context")
    if prov.tainted:
        for name, value in req.args.items():
            passage = prov.relayed(value)
            if passage is not None:
                return make(f"{req.spec.name}: {name} repeats untrusted text word for word ({passage.source}): "
                            f"{passage.value!r}", "provenance-relayed-content")
    return None


def _untrusted_write(req: CallRequest) -> Decision | None:
    """A write must not copy untrusted text into a sensitive place (a memory the agent later trusts).

    Only copies are stopped — the whole value, or a passage of it, word for word: the owner's
    workspace is reversible, and a note the model words itself is expected after reading mail
    (a connector that persists such notes keeps them labelled as written after untrusted content).
    """
    make = Decision.deny if req.provenance_policy == "deny" else Decision.ask
    for name, origins in req.provenance.trace(req.args, req.spec.sensitive_args).items():
        copied = next((o for o in origins if o.trust == "untrusted"), None) or req.provenance.relayed(req.args[name])
        if copied is not None:
            return make(f"{req.spec.name}: {name} copies untrusted content ({copied.source}) into a sensitive place",
                        "provenance-untrusted-write")
    return None
