"""What a call carries: normalised text, hashed word shingles, and the values inside free text.

The guard checks three things about the *content* of a call (not its target):

- Relayed text: word-for-word passages of an outsider's text. Text is normalised first
  (Unicode NFKC, zero-width and control characters removed, case folded, punctuation and
  whitespace reduced to single spaces), then cut into overlapping runs of ``SHINGLE`` words, each
  hashed; a run seen only in untrusted content is the outsider's. One pass over the value and a
  set lookup per word: linear in the argument's size (``benchmarks/bench_payload.py``), where a
  search for every passage in every text was quadratic. The method is w-shingling (Broder, "On
  the resemblance and containment of documents", 1997).
- Links and addresses inside free text (a mail body, an event description): each is a value the
  guard traces like a target.
- Personal data (card numbers by the Luhn check, IBANs by ISO 13616 mod 97, passport numbers,
  social security numbers, salaries): sending one is a choice the owner's request must make.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Iterator

SHINGLE = 5  # words per shingle: shorter runs coincide by chance in ordinary mail
RELAY_SHINGLES = 4  # distinct outsider-only shingles that make a passage (8 words in a row, or four 5-word pieces)
_WORD = re.compile(r"[^\W_]+(?:[:.,'’/@+-][^\W_]+)*")  # a word, with the punctuation inside it ("9:00", "e-mail")
_DROP = {"Cf", "Cc", "Co", "Cs"}  # format (zero-width), control, private use, surrogates
# Common words: a shingle made mostly of them says nothing about who wrote it.
STOPWORDS = frozenset("""
a about after again all also am an and any are as at be been before being but by can could did do does for from
had has have he her here hi him his how i if in into is it its just know let like me more my no not now of on
one or our out please so some than thank thanks that the their them then there these they this to too up us very
was we were what when where which who will with would you your regards best dear hello kind look looking forward
""".split())

URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]+", re.I)
ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", re.I)
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_PASSPORT = re.compile(r"\bpassport\b\W{0,3}(?:\w+\W{1,3}){0,3}?([A-Z]{0,2}\d{6,9}|[A-Z]\d{2}[A-Z0-9]{5,7})\b", re.I)
_SALARY = re.compile(r"\b(?:salary|salaries|compensation|payroll|wage|wages|bonus)\b[^.\n]{0,40}?"
                     r"((?:[$€£]|usd|eur|gbp)?\s?\d[\d,.' ]*\d\s?(?:k|[$€£]|usd|eur|gbp)?)", re.I)
# Words in an owner's request that ask for a kind of personal data to be sent.
PERSONAL_WORDS = {
    "card": ("card", "credit", "payment details"),
    "iban": ("iban", "bank", "account"),
    "ssn": ("ssn", "social security"),
    "passport": ("passport",),
    "salary": ("salary", "salaries", "compensation", "payroll", "wage", "bonus"),
}


def normalise(text: str) -> str:
    """NFKC, hidden characters removed, case folded, whitespace folded: what comparisons see."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if c in "\t\r\n\v\f" else c for c in text if unicodedata.category(c) not in _DROP or c in "\t\r\n\v\f")
    return " ".join(text.casefold().split())


def _h(words: Iterable[str]) -> int:
    # Python's own string hash: shingles are compared only within one process (a run's tracker is
    # rebuilt, not stored), so its per-process seed does not matter.
    return hash(" ".join(words))


def luhn(digits: str) -> bool:
    total, double = 0, False
    for c in reversed(digits):
        d = int(c) * (2 if double else 1)
        total += d - 9 if d > 9 else d
        double = not double
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if not 15 <= len(v) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in v[4:] + v[:4])
    return int(digits) % 97 == 1


def personal_data(text: str) -> list[tuple[str, str]]:
    """``(kind, value)`` of each piece of personal data in ``text``; values are digits/letters only."""
    out: list[tuple[str, str]] = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn(digits):
            out.append(("card", digits))
    for m in _IBAN.finditer(text):
        if _iban_ok(m.group(0)):
            out.append(("iban", m.group(0).replace(" ", "").upper()))
    out += [("ssn", m.group(0)) for m in _SSN.finditer(text)]
    out += [("passport", m.group(1).upper()) for m in _PASSPORT.finditer(text)]
    for m in _SALARY.finditer(text):
        amount = re.sub(r"[^\dk]", "", m.group(1).lower())
        if len(amount.rstrip("k")) >= 2:
            out.append(("salary", amount))
    return out


# A bare host written without a scheme: with a path ("pay.outside.test/now"), or ending in a common top-level domain.
_BARE = re.compile(r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}(?:/[^\s<>\"'()\[\]{}]*)?", re.I)
_TLDS = frozenset("com org net io co info biz app dev xyz site online link click top shop test example invalid ru cn "
                  "uk de fr nl es it eu us ca au in br jp me tv ly gg to cc ai".split())


def links(text: str) -> list[str]:
    """URLs, bare hosts and mail addresses written inside free text, trailing sentence punctuation removed."""
    found = [m.group(0).rstrip(".,;:!?") for m in URL.finditer(text)]
    rest = URL.sub(" ", text)
    found += [m.group(0).rstrip(".") for m in ADDRESS.finditer(rest)]
    rest = ADDRESS.sub(" ", rest)
    for m in _BARE.finditer(rest):
        value = m.group(0).rstrip(".,;:!?")
        host = value.split("/", 1)[0]
        if "/" in value or host.rsplit(".", 1)[-1].lower() in _TLDS:
            found.append(value)
    return found


def is_text(value: Any) -> bool:
    """Free text (four words or more) rather than a structured value (an id, an address, a URL).

    Two or three words with an ``@`` are a malformed recipient, not prose: the guard treats them as
    a target and the address parser refuses them.
    """
    return isinstance(value, str) and len(value.split()) >= 4


def texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every free-text string inside an argument."""
    if isinstance(value, str):
        if is_text(value):
            yield value
    elif depth <= 8 and isinstance(value, dict):
        for v in value.values():
            yield from texts(v, depth + 1)
    elif depth <= 8 and isinstance(value, (list, tuple)):
        for v in value:
            yield from texts(v, depth + 1)
