"""Reading tool calls that a small model writes as text: which spans are calls, and what they say.

Forms: ``<tool_call>{...}</tool_call>`` (the model's own protocol), fenced ```json blocks, bare
JSON naming an offered tool, the chat template's doubled braces (``{{"name": ...}}``), and the
XML-like ``<function><name>..</name><arguments>{..}</arguments></function>`` (a copy of the
template's ``<tools>`` listing, recorded from the bundled model) or ``<function=name>{..}</function>``. Each
value is read with ``json.loads`` first and, failing that, with json-repair, a maintained tolerant
parser for LLM output (raw newlines and tabs inside strings, single quotes, trailing commas,
unquoted keys, a missing closing brace). Only where a value ends is found here, by bracket
matching that knows both quote kinds; no repair is hand-written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from json_repair import repair_json

__all__ = ["UNREADABLE_TOOL", "TextCalls", "TextToolCall", "parse_text_tool_calls", "read_text_tool_calls"]

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
# XML-like forms: the model copies the <tools> listing of its chat template, or writes the
# <function=name>{...}</function> form other templates use.
_FUNCTION_ELEMENT = re.compile(
    r"(?:<tools>\s*)?<function>\s*<name>\s*([\w.-]+)\s*</name>\s*(?:<(?:arguments|parameters)>(.*?)"
    r"</(?:arguments|parameters)>\s*)?</function>(?:\s*</tools>)?", re.S)
_FUNCTION_EQUALS = re.compile(r"<function=([\w.-]+)>(.*?)</function>", re.S)
_FENCED = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\r?\n?(.*?)(?:```|\Z)", re.S)
_CALL_FENCES = {"", "json", "json5", "tool_call"}  # a ```python block holds code, never a call
_FENCE_MARKS = re.compile(r"^\s*```[ \t]*(?:json|JSON)?|```\s*$")
_JSON_START = re.compile(r"[{\[]")
_ANY_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_NAMED = re.compile(r"""["']?name["']?\s*:\s*["']([\w.-]+)["']""")
# Keys a call object may carry; anything else means the JSON is data, not a call.
_CALL_KEYS = {"name", "arguments", "parameters", "args", "type", "id", "function"}

# The tool name given to a call whose name could not be read: pydantic-ai answers it with a retry.
UNREADABLE_TOOL = "unreadable_tool_call"


@dataclass(frozen=True)
class TextToolCall:
    """One call read from text. ``problem`` is set (and ``args`` holds the raw text) when it could not be read."""

    name: str
    args: dict[str, Any] | str  # a string when the model wrote arguments that are not JSON
    problem: str | None = None
    raw: str = field(default="", compare=False, repr=False)  # the call as written, for duplicate detection


@dataclass(frozen=True)
class TextCalls:
    """What ``read_text_tool_calls`` found: calls in order (duplicates removed), the text left, the duplicates."""

    calls: list[TextToolCall]
    rest: str
    duplicates: list[TextToolCall]


def parse_text_tool_calls(text: str, tool_names: Collection[str]) -> tuple[list[TextToolCall], str]:
    """Find readable tool calls written in ``text``; return them in order and the text left once all calls are removed.

    See ``read_text_tool_calls``; this form drops unreadable calls and keeps duplicates.
    """
    found = _find(text, tool_names, truncated=False)
    return [call for _, _, group in found for call in group if call.problem is None], _rest(text, found)


def read_text_tool_calls(text: str, tool_names: Collection[str], *, truncated: bool = False) -> TextCalls:
    """Find tool calls written in ``text``: readable ones, unreadable ones (``problem`` set), duplicates.

    ``<tool_call>`` blocks are the model's own protocol, so any name counts there (an unknown one
    reaches pydantic-ai, which tells the model which tools exist) and a block that cannot be read
    is an unreadable call. Fenced and bare JSON count only when they name one of ``tool_names``,
    since an answer may legitimately contain JSON. ``truncated`` says the model was stopped by its
    token limit: a call whose JSON never closes was then cut off and is unreadable, where otherwise
    a missing closing brace is repaired. A call written byte for byte like an earlier one in the
    same text is listed once in ``calls`` and again in ``duplicates``.
    """
    found = _find(text, tool_names, truncated=truncated)
    calls, duplicates, seen = [], [], set()
    for _, _, group in found:
        for call in group:
            key = call.raw.strip() or repr((call.name, call.args))
            if key in seen:
                duplicates.append(call)
            else:
                seen.add(key)
                calls.append(call)
    return TextCalls(calls, _rest(text, found), duplicates)


_Found = list[tuple[int, int, list[TextToolCall]]]


def _find(text: str, tool_names: Collection[str], *, truncated: bool) -> _Found:
    """Every call-holding span of ``text`` as (start, end, calls), in order of position."""
    if not tool_names or not text:
        return []
    found: _Found = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in found)

    for match in _TAGGED.finditer(text):
        calls = _read_block(match.group(1), tool_names, known_only=False, truncated=truncated)
        if calls is None:  # the model's own call syntax around something unreadable
            calls = [_unreadable(match.group(1), tool_names, "the text inside <tool_call> is not a JSON call")]
        found.append((match.start(), match.end(), calls))
    for pattern in (_FUNCTION_ELEMENT, _FUNCTION_EQUALS):
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                found.append((match.start(), match.end(), [_function_element(match.group(1), match.group(2) or "")]))
    for match in _FENCED.finditer(text):
        payload = match.group(2)
        if match.group(1).lower() in _CALL_FENCES and free(match.start(), match.end()):
            calls = _read_block(payload, tool_names, known_only=True, truncated=truncated)
            if calls is None and _starts_like_a_call(payload.strip()) and _broken_call(payload, tool_names):
                calls = [_unreadable(payload, tool_names, "the call in the code block is not valid JSON")]
            if calls:
                found.append((match.start(), match.end(), calls))
    # Bare JSON is looked for outside code blocks only: JSON inside ```python``` is code.
    fences = [(m.start(), m.end()) for m in _ANY_FENCE.finditer(text)]
    position = 0
    while (match := _JSON_START.search(text, position)) is not None:
        start = match.start()
        taken = [e for s, e, _ in found if s <= start < e] + [e for s, e in fences if s <= start < e]
        if taken:
            position = max(taken)
            continue
        end = _value_end(text, start)
        span = text[start:end or len(text)]
        calls = _read_value(span, tool_names, known_only=True, cut_off=end is None and truncated)
        if calls is None and _starts_like_a_call(span) and _broken_call(span, tool_names):
            calls = [_unreadable(span, tool_names, "the call is not valid JSON")]
        if calls and free(start, end or len(text)):
            found.append((start, end or len(text), calls))
            position = end or len(text)
        else:
            # A whole JSON value is skipped: a call-shaped object nested inside other JSON is data.
            position = end if end is not None else start + 1
    found.sort(key=lambda item: item[0])
    return found


def _read_block(payload: str, tool_names: Collection[str], *, known_only: bool, truncated: bool) -> list[TextToolCall] | None:
    """Calls in a tagged or fenced block, one or more values with at most prose around them; None if it holds none."""
    payload = _FENCE_MARKS.sub("", payload)  # <tool_call> wrapping a fenced block
    calls: list[TextToolCall] = []
    position = 0
    while (match := _JSON_START.search(payload, position)) is not None:
        if known_only and payload[position : match.start()].strip():
            return None  # words in a code block: code or an example, not a call block
        end = _value_end(payload, match.start())
        found = _read_value(payload[match.start() : end or len(payload)], tool_names, known_only=known_only,
                            cut_off=end is None and truncated)
        if found is None:
            return None  # data in the block: a fenced example, not calls
        calls.extend(found)
        if end is None:
            return calls
        position = end
    if known_only and payload[position:].strip():
        return None
    return calls or None


def _read_value(span: str, tool_names: Collection[str], *, known_only: bool, cut_off: bool) -> list[TextToolCall] | None:
    """The calls one JSON(-like) value holds, or None if it is not call-shaped (or not readable at all)."""
    value = _loads(span)
    calls = _as_calls(value, tool_names, known_only=known_only)
    if calls is None:
        return None
    if cut_off:  # repaired into shape, but its end was never written: the arguments may be cut short
        return [_unreadable(span, tool_names, "the call was cut off before its end (the answer was too long)")]
    return [replace(call, raw=span if len(calls) == 1 else json.dumps([call.name, call.args])) for call in calls]


def _loads(span: str) -> Any:
    """``json.loads``, else json-repair's reading (raw control characters, single quotes, trailing commas...)."""
    try:
        return json.loads(span)
    except ValueError:
        pass
    try:
        value = repair_json(span, return_objects=True)
    except Exception:  # noqa: BLE001 - a repair that fails means the text is not readable, nothing more
        return None
    return None if value == "" else value


def _as_calls(value: Any, tool_names: Collection[str], *, known_only: bool) -> list[TextToolCall] | None:
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, tool_names, known_only=known_only) for item in items]
    if not items or any(call is None for call in calls):
        return None
    return calls  # type: ignore[return-value]


def _as_call(item: Any, tool_names: Collection[str], *, known_only: bool) -> TextToolCall | None:
    if not isinstance(item, dict) or not set(item) <= _CALL_KEYS:
        return None
    if isinstance(item.get("function"), dict):  # OpenAI's {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str) or not name or (known_only and name not in tool_names):
        return None
    args = next((item[key] for key in ("arguments", "parameters", "args") if key in item), None)
    if args is None or args == []:  # json-repair reads the template's doubled "{{}}" as an empty list
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return TextToolCall(name, args)  # let pydantic-ai's validation tell the model what is wrong
    if not isinstance(args, dict):
        return None
    return TextToolCall(name, args)


def _function_element(name: str, arguments: str) -> TextToolCall:
    raw = f"{name} {arguments.strip()}"
    if not arguments.strip():
        return TextToolCall(name, {}, raw=raw)
    args = _loads(arguments.strip())
    if not isinstance(args, dict):
        return TextToolCall(name, arguments.strip(), problem="its arguments are not a JSON object", raw=raw)
    return TextToolCall(name, args, raw=raw)


def _unreadable(raw: str, tool_names: Collection[str], problem: str) -> TextToolCall:
    named = [m.group(1) for m in _NAMED.finditer(raw) if m.group(1) in tool_names]
    return TextToolCall(named[0] if named else UNREADABLE_TOOL, raw.strip(), problem=problem, raw=raw)


def _broken_call(text: str, tool_names: Collection[str]) -> bool:
    """Text that names an offered tool as a call would and is not valid JSON: a call gone wrong.

    Valid JSON that is not call-shaped is data (an example, a record) and stays text.
    """
    if not any(m.group(1) in tool_names for m in _NAMED.finditer(text)):
        return False
    try:
        json.loads(_FENCE_MARKS.sub("", text))
    except ValueError:
        return True
    return False


def _starts_like_a_call(span: str) -> bool:
    return re.match(r"""[{\[]+\s*["']?(name|type|function)["']?\s*:""", span) is not None


def _value_end(text: str, start: int) -> int | None:
    """Index just past the bracketed value opening at ``text[start]``, or None if it never closes.

    Only finds where the value ends (strings in either quote, escapes, nesting); reading it is
    left to ``_loads``. A single quote opens a string only where a value or key can start, so an
    apostrophe in unquoted text does not.
    """
    depth, quote, previous, index = 0, "", "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char == '"' or (char == "'" and previous in "{[,:"):
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
        if not char.isspace():
            previous = char
        index += 1
    return None


def _rest(text: str, found: _Found) -> str:
    if not found:
        return text
    rest, cursor = [], 0
    for start, end, _ in found:
        rest.append(text[cursor:start])
        cursor = end
    rest.append(text[cursor:])
    text = re.sub(r"\n{3,}", "\n\n", "".join(rest)).strip()
    # Lead-ins such as "Here is the call:" alone are noise once the call is gone, but they are the
    # model's words: keep them unless nothing but punctuation is left.
    return "" if not re.search(r"\w", text) else text
