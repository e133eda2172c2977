"""The guard as a library: the same ``decide()`` for calls that are not made by an agent run.

Pure policy, no store and no I/O: a ``Policy`` (grants, autonomy, owner) decides one call of a
declared tool (a ``ToolSpec``) with its arguments, in a ``Session`` that plays the part of an
agent run: what the session has read (provenance), how often each tool ran, what a person approved.
``meshclaw.runtime.protect`` builds decorators and MCP access with audit on top of this.

Every verdict comes from ``meshclaw.policy.guard.decide``, so grants, argument conditions, rate
limits, autonomy, the kill switch and provenance mean exactly what they mean in agent runs, and a
policy error is a deny.
"""

from __future__ import annotations

import inspect
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from meshclaw.domain.config import Agent, Autonomy, ToolsetGrant
from meshclaw.domain.decisions import Decision, Verdict
from meshclaw.domain.effects import ToolSpec
from meshclaw.domain.errors import PolicyErrorBase
from meshclaw.domain.grants import Grant
from meshclaw.domain.provenance import CONFIG, OWNER, Label, Labelled, Source, Trust

from .approvals import Scope, approval_key, is_approved
from .guard import CallRequest, decide
from .provenance import ProvenanceTracker, label_for, seed_run

GrantLike = str | dict[str, Any] | Grant


class PolicyError(PolicyErrorBase):
    """A call the policy did not let through. ``decision`` says which rule and why."""

    def __init__(self, spec: ToolSpec, args: dict[str, Any], decision: Decision):
        # "arguments", not "args": Exception.args is the exception's own constructor arguments.
        self.spec, self.tool, self.arguments, self.decision = spec, spec.name, args, decision
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.spec.name} was not run: {self.decision.reason} [{self.decision.rule}]"


class PolicyDenied(PolicyError):
    """The policy denied the call (not granted, outside a grant's conditions, a limit, observe-only, an error)."""


class ApprovalNeeded(PolicyError):
    """The call needs a person's approval first. ``Session.approve(error)`` approves exactly this call
    (same tool, same arguments) for the rest of the session; then call again. ``Session.approve(error,
    scope="targets")`` is the explicit wider choice: the tool with the same sensitive arguments."""

    def describe(self) -> str:
        return f"{self.spec.name} needs approval: {self.decision.reason} [{self.decision.rule}]"

    @property
    def key(self) -> str:
        return approval_key(self.spec, self.arguments)


def _grant(value: GrantLike) -> Grant:
    if isinstance(value, Grant):
        return value
    return Grant.model_validate({"tool": value} if isinstance(value, str) else value)


def policy_agent(source: Agent | Iterable[GrantLike], *, owner: str = "library", name: str = "library",
                 autonomy: Autonomy | str = Autonomy.AUTO) -> Agent:
    """The Agent the guard decides for: an agent's own config, or one made from a list of grants.

    Grants are written as in the config (``"crm.lookup"`` or ``{"tool": "mail.send", "when": ...}``);
    ``autonomy`` defaults to ``auto`` because the grants are the permission, while conditions and
    provenance still apply.
    """
    if isinstance(source, Agent):
        return source
    by_toolset: dict[str, list[Grant]] = {}
    for g in map(_grant, source):
        by_toolset.setdefault(g.tool.split(".", 1)[0], []).append(g)
    return Agent(name=name, owner=owner, instructions="(library use: calls are made by code, not a model)",
                 model="none", autonomy=Autonomy(autonomy),
                 toolsets={t: ToolsetGrant(grants=gs) for t, gs in by_toolset.items()})


@dataclass
class Session:
    """One unit of work (a request, a job): the library's counterpart of an agent run."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    provenance: ProvenanceTracker = field(default_factory=ProvenanceTracker)
    call_counts: dict[str, int] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)
    calls: int = 0  # calls decided so far, to number them

    def request(self, text: str) -> None:
        """What the owner asked for: values in it are trusted for consequential calls."""
        self.provenance.observe(text, OWNER)

    def trusted(self, value: Any, origin: str = "trusted data") -> None:
        self.provenance.observe(value, Label(Source.DIRECTORY, Trust.TRUSTED, origin))

    def untrusted(self, value: Any, origin: str = "untrusted content") -> None:
        """Content an outsider could have written (mail, web pages, chat): it must not steer consequential calls."""
        self.provenance.observe(value, Label(Source.EXTERNAL, Trust.UNTRUSTED, origin))

    def approve(self, call: ApprovalNeeded, scope: Scope = "call") -> None:
        """Approve the call that raised ``call``: exactly that call (all its arguments), or with
        ``scope="targets"`` every call of the tool to the same targets (see ``policy.approvals``)."""
        self.approved.add(approval_key(call.spec, call.arguments, scope))

    def next_call_id(self) -> str:
        self.calls += 1
        return f"{self.id}:{self.calls}"


class Policy:
    """Decides calls for one agent (or one set of grants), exactly as the guard does in agent runs."""

    def __init__(self, source: Agent | Iterable[GrantLike], *, owner: str = "library", name: str = "library",
                 autonomy: Autonomy | str = Autonomy.AUTO, provenance_policy: str = "ask",
                 directory: Iterable[str] = ()):
        if provenance_policy not in ("ask", "deny"):
            raise ValueError("provenance_policy is 'ask' or 'deny'")
        self.agent = policy_agent(source, owner=owner, name=name, autonomy=autonomy)
        self.provenance_policy = provenance_policy
        self.directory = list(directory)

    def new_session(self, request: str | None = None) -> Session:
        session = Session()
        seed_run(session.provenance, request=request, instructions=self.agent.instructions, directory=self.directory)
        return session

    def decide(self, spec: ToolSpec, args: dict[str, Any], session: Session, *, calls_today: int = 0,
               stopped: bool = False) -> Decision:
        request = CallRequest(
            spec=spec, args=dict(args), agent=self.agent, provenance=session.provenance,
            calls_this_run=session.call_counts.get(spec.name, 0), calls_today=calls_today,
            approved=is_approved(spec, args, session.approved), stopped=stopped,
            provenance_policy=self.provenance_policy,
        )
        return decide(request)

    @staticmethod
    def enforce(spec: ToolSpec, args: dict[str, Any], decision: Decision) -> None:
        """Raise unless the decision allows the call."""
        if decision.verdict is Verdict.ALLOW:
            return
        raise (ApprovalNeeded if decision.verdict is Verdict.ASK else PolicyDenied)(spec, args, decision)

    @staticmethod
    def count(session: Session, spec: ToolSpec) -> None:
        session.call_counts[spec.name] = session.call_counts.get(spec.name, 0) + 1

    @staticmethod
    def executed(session: Session, spec: ToolSpec, value: Any) -> tuple[Any, Label]:
        """Count an executed call and remember what it returned, for later provenance checks."""
        Policy.count(session, spec)
        return Policy.observed(session, spec, value)

    @staticmethod
    def observed(session: Session, spec: ToolSpec, value: Any, args: dict[str, Any] | None = None) -> tuple[Any, Label]:
        """Remember what an executed call returned (with its arguments: a lookup the owner asked for
        finds the owner's objects), without counting it."""
        value, label = label_for(spec, value)
        session.provenance.observe_result(spec, args, value, label)
        return value, label


def call_arguments(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments by parameter name, defaults included: the guard checks the values the function will use."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for i, (name, value) in enumerate(bound.arguments.items()):
        kind = bound.signature.parameters[name].kind
        if i == 0 and name in ("self", "cls"):
            continue  # the object a method is called on is not an argument anyone grants on
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value)
        else:
            out[name] = value
    return out
