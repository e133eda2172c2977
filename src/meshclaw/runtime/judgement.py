"""One typed model judgement: a small, schema-constrained question about one item, with no tools.

The bundled 1.5B model cannot drive a long free-form tool loop, but it fills one small schema well
("label this mail", "pick one of these slots"). A judgement gives the model instructions, a few
examples and one item of content, and accepts only an instance of the schema as the answer: with a
model that supports it the schema constrains decoding (OpenAI-style ``response_format`` JSON
schema, which llama.cpp turns into a grammar); otherwise the answer is parsed and validated
against it. The model has no tools, so whatever the content says, it can only fill the fields
(the quarantined-model pattern of the dual-LLM design and CaMeL, Debenedetti et al. 2025).

Each judgement is one durable step (its answer is checkpointed, so a replayed run gets the same
answer without asking again), metered like every model request (the run's budgets hold), and
audited as a ``judgement`` record.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

from pydantic import BaseModel

from meshclaw.domain.runs import AuditKind

from .steps import durable_step

if TYPE_CHECKING:
    from .context import RunDeps

T = TypeVar("T", bound=BaseModel)
MAX_CONTENT = 20_000  # characters of the item shown to the model


def output_spec(model: Any, schema: type[BaseModel]) -> Any:
    """Schema-constrained output where the model supports it (native JSON schema), else prompted JSON."""
    from pydantic_ai import NativeOutput, PromptedOutput

    profile = getattr(model, "profile", None) or {}
    native = profile.get("supports_json_schema_output") if isinstance(profile, dict) else \
        getattr(profile, "supports_json_schema_output", False)
    return NativeOutput(schema) if native else PromptedOutput(schema)


def judgement_prompt(content: str, examples: Sequence[tuple[str, BaseModel]] = (), note: str = "") -> str:
    """The user turn: worked examples (item → answer as JSON), then the item to judge, fenced as data.

    ``note`` (e.g. the current time) goes last, so that instructions and examples stay a stable,
    cacheable prompt prefix."""
    parts = []
    for i, (item, answer) in enumerate(examples, 1):
        parts.append(f"Example {i}:\n<item>\n{item}\n</item>\nAnswer: {answer.model_dump_json()}")
    parts.append(f"<item>\n{content[:MAX_CONTENT]}\n</item>" + (f"\n{note}" if note else "") + "\nAnswer:")
    return "\n\n".join(parts)


async def ask_model(model: Any, schema: type[T], instructions: str, prompt: str, *, retries: int = 1,
                    output: Any = None) -> T:
    """One tool-less request (plus at most ``retries`` re-asks on an invalid answer); the schema instance.

    ``output`` overrides how the schema is asked for (a pydantic-ai output spec); by default
    ``output_spec``: constrained decoding where the model supports it."""
    from pydantic_ai import Agent

    agent: Agent[None, Any] = Agent(model, output_type=output if output is not None else output_spec(model, schema),
                                    instructions=instructions, retries=retries)
    result = await agent.run(prompt)
    return result.output


async def judge(deps: "RunDeps", model: Any, schema: type[T], *, instructions: str, content: str,
                examples: Sequence[tuple[str, T]] = (), name: str | None = None, note: str = "") -> T:
    """Ask ``model`` for one instance of ``schema`` about ``content``, as a durable, metered, audited step.

    ``examples`` are ``(item, answer)`` pairs shown before the item. Raises pydantic-ai's
    ``UnexpectedModelBehavior`` when the model cannot produce a valid instance, and
    ``RunStopped`` / ``BudgetExceeded`` from the metered model.
    """
    label = name or schema.__name__
    prompt = judgement_prompt(content, examples, note)

    async def ask() -> Any:
        return await ask_model(model, schema, instructions, prompt)

    answer: T = await durable_step(f"judgement:{label}", ask)
    deps.store.audit.append(
        f"{deps.run_id}:judgement:{deps.code_calls}:{label}", AuditKind.JUDGEMENT.value, run_id=deps.run_id,
        agent=deps.agent.name, user_id=deps.owner.id, verdict=label,
        data={"schema": label, "answer": json.loads(answer.model_dump_json()), "content_chars": len(content)},
    )
    return answer
