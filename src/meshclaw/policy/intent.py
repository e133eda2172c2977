"""Does the owner's request give a value the role a call uses it in? Mentioned is not intended.

"Read the mail from eve@outside.test, do not reply to her" mentions eve; it does not ask for
anything to go to her. "The 3 pm call" contains "3"; it does not name item 3. A mention counts as
intent only when

- its clause is not negated ("do not", "don't", "never", "not"), and
- it is not only the source or subject of what the owner asks to read ("from", "by", "about",
  "regarding", "of" before it, in a clause without a verb of answering: "reply to the mail from
  eve" does intend eve), unless a later clause answers them ("... and reply to her"), and
- for a person or an address: its clause addresses someone ("send", "reply", "invite", "meet")
  or places it as a participant ("to", "with", "cc"); "check what eve@... wants" does not, and
- for a short number: it stands where an identifier stands ("#3", "ticket 3", "id 3"), not as a
  time, a date, a count or a list number.

The owner's own address is intended where the request asks for something to reach the owner
("email me the summary", ``addresses_owner``), though the request never writes the address.

Clause and role detection are deliberately simple word rules on the normalised request.
"""

from __future__ import annotations

import re

_CLAUSES = re.compile(r"[.;!?\n]+(?:\s|$)|,\s+|\s+but\s+|\s+then\s+")
_NEGATION = re.compile(r"\b(?:not|don't|dont|never|no longer|without|nobody|no one)\b")
_NOT_NEGATION = re.compile(r"\b(?:don't|do not|dont) forget\b|\bnot only\b")
_SOURCE = {"from", "by", "about", "regarding", "re", "of", "sender", "mentioning", "concerning"}
# Verbs whose counterpart is the party a thing came from: "reply to the mail from eve", "pay the invoice from Acme".
_ANSWER = re.compile(r"\b(?:reply|replies|respond|answer|write back|get back|call back|pay|refund|reimburse|remit)\b")
_ADDRESSING = re.compile(r"\b(?:reply|respond|answer|send|email|e-mail|mail|forward|write|tell|ask|invite|cc|share|"
                         r"message|notify|ping|contact|call|add|loop|let|meet|meeting|schedule|book|introduce|"
                         r"post|dm|text|thank|remind|update|brief|pay|transfer)\b")
_PARTICIPANT = {"to", "cc", "bcc", "invite", "recipient", "recipients", "attendee", "attendees"}
# "with" and "and" make a participant only of a meeting ("my 1:1 with Raj"), not of a reading
# ("summarise the thread with eve@...").
_WITH = {"with", "and", "&", "for"}
_MEETING = re.compile(r"\b(?:1:1|one-on-one|meeting|call|sync|catch-up|catchup|lunch|dinner|session|standup|"
                      r"interview|appointment|event|workshop|review|chat)\b")
_PRONOUN = re.compile(r"\b(?:her|him|them|they|she|he|the sender|that person|that address)\b")
_ID_NOUNS = {"id", "no", "number", "ticket", "issue", "item", "order", "invoice", "case", "message", "note", "event",
             "task", "pr", "bug", "entry", "record", "draft", "file", "request", "incident", "mail", "email",
             "comment", "thread", "job", "build", "release", "payment", "transfer", "account", "customer"}
_UNITS = re.compile(r"^\s*(?:[:.]\d|am\b|pm\b|a\.m|p\.m|h\b|hrs?\b|hours?\b|min|minutes?\b|days?\b|weeks?\b|months?\b|"
                    r"years?\b|%|percent|st\b|nd\b|rd\b|th\b|o'clock|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|"
                    r"people|persons?|times?\b|items?\b|emails?\b|messages?\b|mails?\b|tickets?\b|notes?\b|events?\b|"
                    r"files?\b|slides?\b|pages?\b|copies|eur|usd|gbp|k\b|[$€£])")
_MONTHS = re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*$")
SHORT_NUMBER = re.compile(r"^\d{1,6}$")


def _clauses(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _CLAUSES.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _negated(clause: str) -> bool:
    return _NEGATION.search(_NOT_NEGATION.sub(" ", clause)) is not None


def _number_is_an_id(text: str, start: int, end: int) -> bool:
    before, after = text[:start], text[end:]
    if before.endswith("#") or before.endswith("no.") or before.endswith("n°"):
        return True
    if _UNITS.match(after) or _MONTHS.search(before[-12:]) or re.search(r"(?:^|\n)\s*$", before):
        return False  # a time, an amount, a count, a date, or a list number at the start of a line
    words = re.findall(r"[\w']+", before[-30:])
    return bool(words) and words[-1] in _ID_NOUNS


def intended_at(text: str, start: int, end: int, value: str, *, person: bool | None = None) -> bool:
    """Is the mention of ``value`` at ``text[start:end]`` (normalised owner text) a real request for it?

    ``person``: the value names someone (an address, or a name from the directory); None: decided
    from the value (an ``@`` in it).
    """
    if person is None:
        person = "@" in value
    if SHORT_NUMBER.match(value) and not _number_is_an_id(text, start, end):
        return False
    spans = _clauses(text)
    index = next((i for i, (a, b) in enumerate(spans) if a <= start <= b), len(spans) - 1)
    a, b = spans[index]
    clause = text[a:b]
    if _negated(clause):
        return False
    before = re.findall(r"[\w']+", text[a:start])
    subject_only = bool(before) and before[-1] in _SOURCE and not _ANSWER.search(clause)
    if person and not subject_only:
        # A person or an address is a target only where the clause addresses someone ("send",
        # "reply", "invite") or places them as a participant ("to", "with", "cc").
        subject_only = not (_ADDRESSING.search(clause) or (before and before[-1] in _PARTICIPANT)
                            or (before and before[-1] in _WITH and _MEETING.search(clause)))
    if subject_only:
        # Only the subject of a reading; intended if a later clause answers or addresses them.
        for c0, c1 in spans[index + 1:]:
            later = text[c0:c1]
            if _PRONOUN.search(later) and _ADDRESSING.search(later) and not _negated(later):
                return True
        return False
    return True


_ME = re.compile(r"\b(?:me|myself)\b")


def addresses_owner(text: str) -> bool:
    """Does the (normalised) owner text ask for something to reach the owner themselves: a clause, not
    negated, that addresses someone and names the owner in the first person ("email me the summary",
    "cc me", "send it to myself")?"""
    return any(_ME.search(text[a:b]) and _ADDRESSING.search(text[a:b]) and not _negated(text[a:b])
               for a, b in _clauses(text))


def finditer(text: str, needle: str, left: str, right: str) -> list[tuple[int, int]]:
    """Where ``needle`` occurs in ``text`` as a whole token (see ``provenance.contains``)."""
    if needle not in text:
        return []
    return [(m.start(), m.end()) for m in re.finditer(left + re.escape(needle) + right, text)]
