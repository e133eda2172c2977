"""The ``reader`` toolset: facts from untrusted content, extracted by a model that has no tools.

``reader.extract`` lets an agent act on what a mail, message or document says without reading the
words itself: see ``meshclaw.connectors.quarantine``. Checked values (enum, yes/no, number, date,
addresses in the directory) come back trusted and do not taint the run; free text comes back
untrusted. The extraction uses the agent's own model (or the model named in the toolset's
``model`` setting), without tools.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.runtime.tool_context import ToolContext
from meshclaw.connectors import quarantine
from meshclaw.connectors.quarantine import Directory, ExtractionProblem, FieldSpec


class ReaderSettings(BaseModel):
    """The reader's settings: which of the organisation's models extracts (default: the agent's own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(default=None, description="a model defined under 'models'; default: the agent's model")


@tool("reader.extract", Effect.READ, output_trust="untrusted")
async def reader_extract(ctx: RunContext[ToolContext], fields: dict[str, FieldSpec], source: str | None = None,
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
            text = await quarantine.fetch(ctx, source or "", deps.granted)
    except (ExtractionProblem, LookupError) as e:
        raise ModelRetry(str(e)) from None
    prov = deps.provenance
    # The model comes from the context's declared "model" capability: metered and priced like the planner's.
    model = deps.model(deps.settings.model)
    directory = Directory(frozenset(u.email.lower() for u in deps.directory.users if u.email),
                          frozenset(deps.directory.domains))
    extraction = await quarantine.extract(model, text, fields, directory,
                                          lambda option: not prov.tainted or prov.origin(option).trust == "trusted")
    return extraction.labelled()


def toolset() -> Toolset:
    return Toolset("reader", "Typed facts from untrusted content, read by a model with no tools.", [reader_extract])
