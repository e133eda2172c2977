"""What a run tells its owner: the current time it works in, and whether its final answer is usable.

Every model request of a run carries the run's date, time and the owner's time zone (a 1.5B model
otherwise books meetings years in the past). The time is the run's start, so a replayed run sends
the same words. A final answer that is empty, or only the chat template's scaffolding (tool-call
tags, the runtime's own nudges), is not an answer: the run ends ``no-answer`` instead of
``succeeded`` with junk.

A final answer that repeats a recommendation or instruction found only in outside content (a
mail, a shared note, a web page) has no tool call for the guard to hold: the answer itself says so,
quoting the words and their source, and the run records it (``mark_outside_advice``). The check is
linear in the size of what the run read: each directive sentence of untrusted text is cut into
normalised 3-word shingles (``policy.payload.normalise``), the answer's sentences are looked up in
that set, and shingles also found in trusted text (the owner's request, the configuration, the
owner's own records) do not count. A link or address in the answer that only outside content
contains is flagged the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from meshclaw.domain.runs import AlertEvent, AuditKind
from meshclaw.policy import payload

from .models.bundled import TOOL_RESULT_NUDGE

if TYPE_CHECKING:
    from meshclaw.policy.provenance import ProvenanceTracker

    from .context import RunDeps

_MARKUP = re.compile(r"</?(tool_call|tool_response|tools|function|functions)>|<\|im_(start|end)\|>|<\|endoftext\|>")
_TEMPLATE_SENTENCES = (TOOL_RESULT_NUDGE.split(". ")[0], "(the script has no more turns)")


def time_line(at: datetime, zone: str) -> str:
    """``"Now: Sunday 29 November 2026, 23:50 (Europe/Paris, the owner's time zone)."``"""
    local = (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(ZoneInfo(zone))
    return f"Now: {local:%A %d %B %Y, %H:%M} ({zone}, the owner's time zone)."


def answer_problem(text: str | None) -> str | None:
    """Why ``text`` is not a usable final answer, or None if it is one: empty (only whitespace),
    chat-template markup, or the runtime's own prompt sentences with no word or number of the model's
    own beside them. Any other text is an answer, however short ("OK", "No", "42")."""
    stripped = (text or "").strip()
    if not stripped:
        return "the model gave no answer"
    if _MARKUP.search(stripped):
        return "the model's answer is chat-template markup (tool-call or tool-response tags), not an answer"
    without = stripped
    for sentence in _TEMPLATE_SENTENCES:
        without = without.replace(sentence, "")
    # Only an answer that held the runtime's own words and nothing else of its own is an echo: a short
    # genuine answer ("OK", "No", "42") is an answer.
    if without != stripped and not any(c.isalnum() for c in without):
        return "the model's answer only repeats the runtime's own prompt text"
    return None


# Words that make a sentence a recommendation or an instruction to the reader (or to the assistant).
_DIRECTIVE = re.compile(
    r"\b(?:you should|you must|you need to|you have to|we recommend|i recommend|recommended|recommend(?:s|ing)?|"
    r"advise[sd]?|make sure|be sure to|don'?t forget|do not forget|remember to|please|kindly|urgent(?:ly)?|"
    r"immediately|asap|click|visit|go to|log ?in|sign ?in|verify your|confirm your|update your|reset your|"
    r"transfer|wire|pay|invest|buy|sell|install|download|call|reply|forward|share|send|tell (?:the )?(?:user|owner)|"
    r"ignore (?:all |any )?(?:previous|prior|earlier)|instead of|switch to|use)\b")
_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+|\\n")
_GRAM = 3  # words per shingle: a recommendation is often short ("switch to acme pay")
MIN_SHARED = 2  # shingles an answer sentence must share with one directive sentence (4 words in a row)


@dataclass(frozen=True)
class OutsideAdvice:
    """One place where an answer repeats outside content: the answer's words and where they came from."""

    quote: str  # the answer's sentence, as the model wrote it
    source: str  # the outside content it repeats, in words (a label's origin)
    outside: str  # the outside sentence (normalised) it repeats


def _shingles(text: str) -> set[str]:
    words = payload._WORD.findall(text)
    return {" ".join(words[i:i + _GRAM]) for i in range(len(words) - _GRAM + 1)
            if sum(1 for w in words[i:i + _GRAM] if w not in payload.STOPWORDS) >= 2}


def outside_advice(answer: str, tracker: "ProvenanceTracker") -> list[OutsideAdvice]:
    """Sentences of ``answer`` that repeat a recommendation or instruction (or a link) found only in
    untrusted content the run read, each with its source; [] if none. Pure and linear in the size
    of the answer plus what the run read."""
    if not tracker.untrusted or not answer.strip():
        return []
    trusted: set[str] = set()
    trusted_text = " ".join(t for t, _ in tracker.trusted)
    for text, _ in tracker.trusted:
        trusted |= _shingles(text)
    directive: dict[str, tuple[str, str]] = {}  # shingle -> (outside sentence, source)
    for text, label in tracker.untrusted:
        for sentence in _SPLIT.split(text):
            if _DIRECTIVE.search(sentence):
                for sh in _shingles(sentence) - trusted:
                    directive.setdefault(sh, (sentence.strip(), label.origin or label.source.value))
    untrusted_text = " ".join(t for t, _ in tracker.untrusted)
    found: list[OutsideAdvice] = []
    for sentence in (s.strip() for s in _SPLIT.split(answer)):
        if not sentence:
            continue
        normal = payload.normalise(sentence)
        hits: dict[tuple[str, str], int] = {}
        for sh in _shingles(normal):
            if sh in directive:
                hits[directive[sh]] = hits.get(directive[sh], 0) + 1
        best = max(hits.items(), key=lambda kv: kv[1], default=None)
        if best is not None and best[1] >= MIN_SHARED:
            found.append(OutsideAdvice(sentence, best[0][1], best[0][0]))
            continue
        for link in payload.links(sentence):
            needle = payload.normalise(link)
            if needle in untrusted_text and needle not in trusted_text:
                source = next((lb.origin or lb.source.value for t, lb in tracker.untrusted if needle in t), "outside content")
                found.append(OutsideAdvice(sentence, source, needle))
                break
    return found


def advice_note(found: list[OutsideAdvice]) -> str:
    """The words appended to an answer that repeats outside content."""
    lines = ["Note: this answer repeats advice or instructions found only in outside content, not from you "
             "or your own records; check before acting on it:"]
    lines += [f'- "{f.quote}" (from {f.source})' for f in found]
    return "\n".join(lines)


def mark_outside_advice(deps: "RunDeps", output: str) -> str:
    """The run's final answer with a note when it repeats outside advice (``outside_advice``),
    recorded as an ``alert`` audit record of the run and emitted; the answer unchanged otherwise."""
    found = outside_advice(output, deps.provenance)
    if not found:
        return output
    note = advice_note(found)
    deps.store.audit.append(f"{deps.run_id}:answer-outside-advice", AuditKind.ALERT.value, run_id=deps.run_id,
                            agent=deps.agent.name, user_id=deps.owner.id, verdict="answer-outside-advice",
                            reason=note, data={"quotes": [{"quote": f.quote, "source": f.source, "outside": f.outside}
                                                          for f in found]})
    deps.emit(AlertEvent(note))
    return f"{output}\n\n{note}"
