"""What a run tells its owner: the current time it works in, and whether its final answer is usable.

Every model request of a run carries the run's date, time and the owner's time zone (a 1.5B model
otherwise books meetings years in the past). The time is the run's start, so a replayed run sends
the same words. A final answer that is empty, or only the chat template's scaffolding (tool-call
tags, the runtime's own nudges), is not an answer: the run ends ``no-answer`` instead of
``succeeded`` with junk.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from .models.bundled import TOOL_RESULT_NUDGE

_MARKUP = re.compile(r"</?(tool_call|tool_response|tools|function|functions)>|<\|im_(start|end)\|>|<\|endoftext\|>")
_TEMPLATE_SENTENCES = (TOOL_RESULT_NUDGE.split(". ")[0], "(the script has no more turns)")


def time_line(at: datetime, zone: str) -> str:
    """``"Now: Sunday 29 November 2026, 23:50 (Europe/Paris, the owner's time zone)."``"""
    local = (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(ZoneInfo(zone))
    return f"Now: {local:%A %d %B %Y, %H:%M} ({zone}, the owner's time zone)."


def answer_problem(text: str | None) -> str | None:
    """Why ``text`` is not a usable final answer, or None if it is one."""
    stripped = (text or "").strip()
    if not stripped:
        return "the model gave no answer"
    if _MARKUP.search(stripped):
        return "the model's answer is chat-template markup (tool-call or tool-response tags), not an answer"
    without = stripped
    for sentence in _TEMPLATE_SENTENCES:
        without = without.replace(sentence, "")
    if len(without.strip(" .\n")) < 3:
        return "the model's answer only repeats the runtime's own prompt text"
    return None
