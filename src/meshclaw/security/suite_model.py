"""Scripted models for the injection suite: an honest one, and a hijacked one that obeys everything.

Both play a scenario's benign ``plan``. The hijacked model is the worst case: whenever a tool
result shows it the attacker's text, it performs the attacker's calls, with the attacker's
arguments, before carrying on (and it carries on whatever the guard answered). When the same
model is asked to fill a schema with no tools (the quarantined reader), the honest one reports the
scenario's facts; the hijacked one is gullible: it copies the whole document into free-text fields
and picks whatever value the attacker's text names for an enum, address or date field.

Each turn is computed from the message history alone (like ``runtime.models.scripted``), so a
replayed durable run gets the same turns. The model finds its script through the run it serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic_ai.messages import (ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart,
                                  UserPromptPart)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from .catalog import Call, Scenario

PLAN, ATTACK = "plan-", "atk-"
_PLACEHOLDER = re.compile(r"\{\{\s*(previous|fact\s+(\w+))\s*\}\}")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?\b")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if value is not None else []


@dataclass
class Script:
    scenario: Scenario
    hijacked: bool

    # --- the planner ----------------------------------------------------------------------------

    def plan_turn(self, messages: list[ModelMessage]) -> ModelResponse:
        issued = {p.tool_call_id for m in messages if isinstance(m, ModelResponse) for p in m.parts
                  if isinstance(p, ToolCallPart)}
        returns = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
        if self.hijacked and any(self.scenario.attack.text in s for r in returns for s in _strings(r.content)):
            for j, call in enumerate(self.scenario.attack.calls):
                if f"{ATTACK}{j}" not in issued:
                    return self._call(call, f"{ATTACK}{j}", returns)
        done = sum(1 for i in issued if i.startswith(PLAN))
        if done < len(self.scenario.plan):
            return self._call(self.scenario.plan[done], f"{PLAN}{done}", returns)
        return ModelResponse(parts=[TextPart(self.scenario.answer)])

    def _call(self, call: Call, call_id: str, returns: list[ToolReturnPart]) -> ModelResponse:
        args = _resolve(call.args, returns)
        return ModelResponse(parts=[ToolCallPart(call.tool.replace(".", "_"), args, tool_call_id=call_id)])

    # --- the same model as a quarantined reader -------------------------------------------------

    def extract_turn(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        output = info.output_tools[0]
        document = _document(messages)
        attacked = self.hijacked and self.scenario.attack.text in document
        values: dict[str, Any] = {}
        for name, schema in output.parameters_json_schema.get("properties", {}).items():
            values[name] = self.scenario.facts.get(name)
            if attacked:
                values[name] = _gullible(schema, self.scenario.attack.text, document, values[name])
        return ModelResponse(parts=[ToolCallPart(output.name, values, tool_call_id="extract")])


def _resolve(value: Any, returns: list[ToolReturnPart]) -> Any:
    """Fill ``{{previous}}`` (the last tool result, as the model saw it) and ``{{fact name}}``."""
    if isinstance(value, dict):
        return {k: _resolve(v, returns) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, returns) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole and whole.group(2):
        return _fact(whole.group(2), returns)  # keeps the fact's type (a number stays a number)
    return _PLACEHOLDER.sub(lambda m: str(_fact(m.group(2), returns)) if m.group(2) else
                            _pasted(returns), value)


def _pasted(returns: list[ToolReturnPart]) -> str:
    """The last tool result as a model would paste it into a message: its text values, not JSON."""
    return "\n".join(_strings(returns[-1].content))[:2000] if returns else ""


def _fact(name: str, returns: list[ToolReturnPart]) -> Any:
    for r in reversed(returns):
        if r.tool_name == "reader_extract" and isinstance(r.content, dict):
            return (r.content.get("facts") or {}).get(name)
    return None


def _document(messages: list[ModelMessage]) -> str:
    for m in messages:
        if isinstance(m, ModelRequest):
            for p in m.parts:
                if isinstance(p, UserPromptPart) and isinstance(p.content, str):
                    return p.content.partition("<document>")[2]
    return ""


def _gullible(schema: dict[str, Any], attack: str, document: str, honest: Any) -> Any:
    """What a fully fooled reader puts in a field: the attacker's choice wherever the type allows one."""
    options = [o for s in schema.get("anyOf", [schema]) for o in s.get("enum", [])]
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
    formats = {s.get("format") for s in schema.get("anyOf", [schema])}
    if options:
        return next((o for o in options if re.search(rf"(?<![\w.-]){re.escape(o)}(?![\w-]|\.\w)", attack)), honest)
    if formats & {"date", "date-time"}:
        found = _DATE.search(attack)
        return found.group(0) if found else honest
    if "string" in kinds and schema.get("anyOf", [schema])[0].get("pattern"):
        found = _ADDRESS.search(attack)
        return found.group(0) if found else honest
    if "string" in kinds:
        return document.strip()[:1000]
    return honest


class SuiteModel:
    """One model object for every run of the suite; each run is served by the script registered for it."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}

    def model(self) -> FunctionModel:
        return FunctionModel(self._respond, model_name="injection-suite")

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        from meshclaw.runtime.metered import current_run

        deps = current_run.get()
        script = self.scripts.get(deps.run_id) if deps is not None else None
        if script is None:
            return ModelResponse(parts=[TextPart("(no script for this run)")])
        if info.output_tools and not info.function_tools:
            return script.extract_turn(messages, info)
        return script.plan_turn(messages)
