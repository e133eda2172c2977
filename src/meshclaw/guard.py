"""``meshclaw.guard``: the guard as a library, for people who put it around their own tools.

This is the stable public API; everything it names keeps its meaning across releases, and the
same decision function (``meshclaw.policy.guard.decide``) judges agent runs, so a result measured
here (for example on a benchmark of tool calls) is what an agent would get.

    from meshclaw.guard import Protector, PolicyDenied, ApprovalNeeded

    protector = Protector(["crm.lookup", {"tool": "mail.send", "when": {"to": {"domain_in": ["example.com"]}}}],
                          owner="alice")

    @protector.protect("mail.send", effect="external", sensitive=["to"])
    def send(to: str, body: str) -> str: ...

    with protector.session(request="mail the report to bob@example.com") as session:
        session.untrusted(fetched_page, origin="web")      # what an outsider could have written
        send("bob@example.com", "...")                      # allowed: the owner named bob
        send("eve@evil.example", "...")                     # PolicyDenied: outside the grant

Pure decisions without running anything: ``Policy(grants).decide(spec, args, session)`` returns a
``Decision`` (``verdict`` allow / ask / deny, ``reason``, ``rule``). With a ``store``, a Protector
writes every decision and call to the tamper-evident audit log, exactly as agent runs do.

What the guard checks once a session has read untrusted content (``session.untrusted(...)``):
every target of a consequential call (its sensitive arguments, and any address or URL in any
other argument, however nested) must be one the owner's request names *as a target* ("read the
mail from eve@..., do not reply" names eve only as a subject); what the call carries must not be
the outsider's words, links or personal data the owner did not ask to send; a read that reaches
outside (a ``ToolSpec`` with ``egress`` arguments, or any URL argument) must not carry data the
session read nor go where only outside content pointed. A value that holds an ``@`` but is not
exactly one well-formed address is denied. ``Policy.observed(session, spec, value, args)``
records a result; a lookup the owner asked for that finds one object makes its identifiers the
owner's. ``session.approve(error)`` approves exactly that call (all its arguments);
``session.approve(error, scope="targets")`` is the explicit wider choice.

Names:
- ``Protector``, ``protect_mcp``: decorators and MCP access with audit and approvals.
- ``Policy``, ``Session``, ``policy_agent``: decisions and per-unit-of-work state.
- ``ToolSpec``, ``Effect``, ``tool``: declaring a tool (its effect, sensitive arguments, output trust).
- ``Label``, ``Source``, ``Trust``, ``Labelled``, ``LabelledFields``: provenance labels.
- ``Decision``, ``Verdict``: the guard's answers.
- ``PolicyError``, ``PolicyDenied``, ``ApprovalNeeded``: what a refused call raises.
- ``approval_key``: what an approval covers (``scope="call"``, the default, or ``"targets"``).
- ``parse_address``, ``AddressError``: the one mail-address parser the guard and connectors share.
- ``grant_condition_problems``: grant conditions that name no parameter of their tool (they would never be checked).
"""

from __future__ import annotations

from meshclaw.connectors.mcp.protected import protect_mcp
from meshclaw.domain.addresses import AddressError, parse_address
from meshclaw.domain.decisions import Decision, Verdict
from meshclaw.domain.effects import Effect, ToolSpec, tool
from meshclaw.domain.provenance import Label, Labelled, Source, Trust
from meshclaw.policy.approvals import approval_key
from meshclaw.policy.conditions import grant_condition_problems
from meshclaw.policy.library import ApprovalNeeded, Policy, PolicyDenied, PolicyError, Session, policy_agent
from meshclaw.policy.provenance import LabelledFields
from meshclaw.runtime.protect import Protector

__all__ = [
    "AddressError", "ApprovalNeeded", "Decision", "Effect", "Label", "Labelled", "LabelledFields", "Policy",
    "PolicyDenied", "PolicyError", "Protector", "Session", "Source", "ToolSpec", "Trust", "Verdict", "approval_key",
    "grant_condition_problems", "parse_address", "policy_agent", "protect_mcp", "tool",
]
