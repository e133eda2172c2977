"""What the owner's request says in so many words, checked by code after the model has read it.

The model fills ``MeetingRequest`` from the request (``workflow.py``); a 1.5B model misreads the
fields a pattern reads for certain: an ISO date (RFC 3339 ``full-date``), a length with its unit, the
week words, and e-mail addresses (RFC 5322 ``addr-spec``, the common dot-atom form). ``settle`` puts
those back where the request states them exactly once, and leaves every other field as the model
read it. The request is the owner's own words, so nothing here reads outside content.

    settle(MeetingRequest(people=["jan.weber", "Leo"], minutes=30, when="next_week", ...),
           "book a one hour call with jan.weber@brightmart.test and Leo on 2026-06-10")
    -> people ["jan.weber@brightmart.test", "Leo"], minutes 60, when "date", date "2026-06-10"
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_MINUTES = 30  # the instructions' "30 if not said"

ISO_DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")
ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_COUNT = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50,
          "sixty": 60, "ninety": 90}
_NUMBER = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted((re.escape(w) for w in _COUNT), key=len, reverse=True)) + r")"
# "an hour and a half", "half an hour", "a quarter of an hour", "1.5 hours", "90 min", "30m", "2h", "45-minute"
LENGTHS = [
    (re.compile(r"\b(?:an|one) hour and a half\b", re.I), lambda m: 90),
    (re.compile(r"\b(?:half an|a half|half-an|half)[ -]hour\b", re.I), lambda m: 30),
    (re.compile(r"\b(?:a )?quarter(?: of an|-an)? hour\b", re.I), lambda m: 15),
    (re.compile(r"\b" + _NUMBER + r"[\s-]*(hours?|hrs?)\b", re.I), lambda m: _count(m.group(1)) * 60),
    (re.compile(r"\b" + _NUMBER + r"[\s-]*(minutes?|mins?)\b", re.I), lambda m: _count(m.group(1))),
    (re.compile(r"\b(\d+)(h)\b", re.I), lambda m: int(m.group(1)) * 60),
    (re.compile(r"\b(\d+)(m)\b", re.I), lambda m: int(m.group(1))),
]
LENGTH_WORDS = re.compile(r"\b(hours?|hrs?|minutes?|mins?|half|quarter)\b|\b\d+[hm]\b", re.I)  # any length said
WEEK_WORDS = {"today": re.compile(r"\btoday\b", re.I), "tomorrow": re.compile(r"\btomorrow\b", re.I),
              "this_week": re.compile(r"\bthis week\b", re.I), "next_week": re.compile(r"\bnext week\b", re.I)}


def _count(word: str) -> float:
    word = word.lower().replace(",", ".")
    return _COUNT[word] if word in _COUNT else float(word)


def stated_minutes(text: str) -> int | None:
    """The meeting's length in minutes when ``text`` states exactly one (None: none, several that
    disagree, or a unit word no pattern reads, as in "a couple of minutes"). "an hour and a half" is
    read before "an hour", so overlapping phrases count once."""
    found: list[int] = []
    taken: list[tuple[int, int]] = []
    for pattern, minutes in LENGTHS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            found.append(int(round(minutes(m))))
    unread = any(not any(a <= m.start() < b for a, b in taken) for m in LENGTH_WORDS.finditer(text))
    return found[0] if found and len(set(found)) == 1 and not unread else None


def stated_when(text: str) -> tuple[str, str] | None:
    """("date", YYYY-MM-DD) for exactly one ISO date, else (one of today/tomorrow/this_week/next_week, "")
    when exactly one of those is said; None otherwise."""
    dates = set(ISO_DATE.findall(text))
    if dates:
        return ("date", dates.pop()) if len(dates) == 1 else None
    said = [when for when, pattern in WEEK_WORDS.items() if pattern.search(text)]
    return (said[0], "") if len(said) == 1 else None


def people_with_addresses(people: list[str], text: str) -> list[str]:
    """The model's ``people`` with every address the request names, whole: a piece of an address the
    model kept ("jan.weber") becomes the address, an address it left out is added, one the request
    does not hold (a misspelt copy) is dropped, and the list is in the order the request names them."""
    addresses = list(dict.fromkeys(ADDRESS.findall(text)))
    out: list[str] = []
    for p in people:
        name = p.strip()
        if "@" in name and name.lower() not in (a.lower() for a in addresses):
            continue  # an address the request does not hold is a misreading: only written addresses are invited
        whole = next((a for a in addresses if name and name.lower() != a.lower() and name.lower() in a.lower()), None)
        out.append(whole or name)
    for a in addresses:
        if a.lower() not in (p.lower() for p in out):
            out.append(a)
    out = list(dict.fromkeys(p for p in out if p))
    lowered = text.lower()
    return sorted(out, key=lambda p: lowered.find(p.lower()) if p.lower() in lowered else len(lowered))


def settle(request: Any, text: str) -> Any:
    """``request`` (a ``MeetingRequest``) with the fields ``text`` states exactly put back: the length
    (``DEFAULT_MINUTES`` when no length is said at all), the day or week, and the addresses. A copy;
    the title and the names the model read are kept."""
    update: dict[str, Any] = {"people": people_with_addresses(list(request.people), text)}
    minutes = stated_minutes(text)
    if minutes is not None and 5 <= minutes <= 480:
        update["minutes"] = minutes
    elif minutes is None and not LENGTH_WORDS.search(text):
        update["minutes"] = DEFAULT_MINUTES
    when = stated_when(text)
    if when is not None:
        update["when"], update["date"] = when
    return request.model_copy(update=update)
