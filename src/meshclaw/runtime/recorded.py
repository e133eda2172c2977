"""Recorded inputs: what an earlier run read, played back to a rehearsal instead of the workplace.

``meshclaw rehearse AGENT TASK --inputs-from RUN`` answers every read tool call from the results
that run RUN recorded (its durable checkpoints hold each read's full result and provenance label),
and captures every write as any rehearsal does, so the rehearsal touches nothing real at all: the
mailbox, calendar and MCP servers are neither read nor changed. A read that RUN never made gets a
plain "not recorded" answer naming the calls that were recorded, never a live read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from meshclaw.domain.provenance import Label

RECORDED_INPUTS = "recorded_inputs"  # the key in a run's snapshot naming the run whose reads it replays


def call_key(tool: str, args: dict[str, Any]) -> str:
    return f"{tool} {json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)}"


@dataclass
class RecordedInputs:
    source_run: str
    # call key -> the results recorded for that exact call, in the order they were read
    reads: dict[str, list[tuple[Any, Label]]] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)

    def add(self, tool: str, args: dict[str, Any], value: Any, label: Label) -> None:
        self.reads.setdefault(call_key(tool, args), []).append((value, label))

    def answer(self, tool: str, args: dict[str, Any]) -> tuple[Any, Label] | None:
        """The recorded result of this exact call; repeats of a call get the later recordings, then the last."""
        key = call_key(tool, args)
        results = self.reads.get(key)
        if not results:
            return None
        n = self.served.get(key, 0)
        self.served[key] = n + 1
        return results[min(n, len(results) - 1)]

    def missing(self, tool: str, args: dict[str, Any]) -> str:
        recorded = sorted(k.split(" ", 1)[1] for k in self.reads if k.split(" ", 1)[0] == tool)
        said = f"{tool} with {json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)} was not recorded in run {self.source_run}"
        if not recorded:
            return f"{said}, which made no {tool} calls (this rehearsal reads only recorded inputs)"
        shown = "; ".join(recorded[:5]) + (f"; and {len(recorded) - 5} more" if len(recorded) > 5 else "")
        return f"{said}; its recorded {tool} calls have these arguments: {shown}"

    def __len__(self) -> int:
        return sum(len(v) for v in self.reads.values())


async def load_recorded_inputs(run_id: str) -> RecordedInputs:
    """Every completed read of the run, from its durable checkpoints."""
    from dbos import DBOS

    from .context import Outcome
    from .pipeline import STEP_PREFIX

    recorded = RecordedInputs(run_id)
    for step in await DBOS.list_workflow_steps_async(run_id):
        outcome = step.get("output")
        if not step["function_name"].startswith(STEP_PREFIX) or not isinstance(outcome, Outcome):
            continue
        if outcome.read_args is not None and outcome.label is not None and outcome.error is None:
            recorded.add(step["function_name"].removeprefix(STEP_PREFIX), outcome.read_args, outcome.value, outcome.label)
    return recorded
