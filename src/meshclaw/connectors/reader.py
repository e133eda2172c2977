"""The ``reader`` toolset: facts from untrusted content, extracted by a model that has no tools.

``reader.extract`` lets an agent act on what a mail, message or document says without reading the
words itself: see ``meshclaw.connectors.quarantine``. Checked values (enum, yes/no, number, date,
addresses in the directory) come back trusted and do not taint the run; free text comes back
untrusted. The extraction uses the agent's own model (or the model named in the toolset's
``model`` setting), without tools.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.policy.guard import find_grant
from meshclaw.runtime.context import RunDeps
from meshclaw.connectors import quarantine
from meshclaw.connectors.quarantine import Directory, ExtractionProblem, FieldSpec


def _model(deps: RunDeps) -> Any:
    from meshclaw.runtime.metered import metered_model

    name = deps.settings("reader").get("model") or deps.agent.model
    # Metered and priced like the planner's requests: quarantined reading counts against the budgets too.
    return metered_model(name, deps.config.models, deps.store.home, deps.secrets)


@tool("reader.extract", Effect.READ, output_trust="untrusted")
async def reader_extract(ctx: RunContext[RunDeps], fields: dict[str, FieldSpec], source: str | None = None,
                         text: str | None = None) -> dict:
    """Extract typed facts from a mail, message, event, document or page without reading it yourself.

    Prefer this to reading untrusted content when you only need facts to act on: checked values
    (enum, bool, number, date, datetime, an address of the organisation) are trusted and keep your actions
    free of approval prompts; free text ("text" fields, outside addresses) comes back untrusted.

    Args:
        fields: what to extract, e.g. {"version": {"type": "enum", "options": ["2.4.1", "2.4.0"]},
            "due": {"type": "date"}, "requester": {"type": "address"}, "summary": {"type": "text"}}.
        source: where the content is, as scheme:reference, e.g. "email:m42", "chat:releases",
            "calendar:evt-7", "file:/shared/q3.txt", "ticket:T-12", "web:https://...".
        text: the content itself, if you already have it (then source is ignored).
    """
    deps = ctx.deps
    if text is None and not source:
        raise ModelRetry("give either source (scheme:reference) or text")
    try:
        quarantine.output_model(fields)  # reject a malformed request before fetching anything
        if text is None:
            text = await quarantine.fetch(ctx, source or "", lambda t: find_grant(deps.agent, t) is not None)
    except (ExtractionProblem, LookupError) as e:
        raise ModelRetry(str(e)) from None
    prov = deps.provenance
    extraction = await quarantine.extract(_model(deps), text, fields, Directory.of(deps.config),
                                          lambda option: not prov.tainted or prov.origin(option).trust == "trusted")
    return extraction.labelled()


def toolset() -> Toolset:
    return Toolset("reader", "Typed facts from untrusted content, read by a model with no tools.", [reader_extract])
