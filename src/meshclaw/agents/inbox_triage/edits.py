"""What the owner changed in a draft before sending it: normalised bodies and a short description.

Pure functions, used by ``followup.py``. A sent reply usually carries the quoted original below the
owner's words ("On Mon, Bob wrote:" and lines starting with ">") and may carry a signature after
"-- "; neither is the owner's edit, so both are cut before comparing.
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(r"^\s*(on .{0,200}wrote:|-+\s*original message\s*-+|from:\s.+)\s*$", re.IGNORECASE)
_GREETING = re.compile(r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|hallo|moin)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def own_words(body: str) -> str:
    """The body without the quoted original, the attribution line above it and the signature;
    line ends normalised, trailing spaces and blank lines at both ends removed."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for line in lines:
        if line.rstrip() == "--" or line == "-- ":
            break  # signature separator (RFC 3676 4.3)
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _ATTRIBUTION.match(kept[-1])):
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


def normalised(body: str) -> str:
    """``own_words`` with all runs of white space made one space: what "unchanged" compares."""
    return " ".join(own_words(body).split())


def same_body(drafted: str, sent: str) -> bool:
    """Whether the sent body says exactly what the draft said (quotes, signature and spacing aside)."""
    return normalised(drafted) == normalised(sent)


def _sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SENTENCE.split(text) if s and s.strip()]


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def describe_edit(drafted: str, sent: str) -> dict[str, str]:
    """What changed from the draft to what was sent, as short phrases:

    ``{"length": "shorter (42 → 20 words)", "greeting": "'Hi Bob,' → 'Dear Bob,'",
    "first_change": "'I will review it by Friday.' → 'I will review it on Monday.'", "summary": "..."}``;
    keys appear only when they apply; ``summary`` is always there (one line, at most ~300 characters)."""
    a, b = own_words(drafted), own_words(sent)
    out: dict[str, str] = {}
    wa, wb = len(a.split()), len(b.split())
    if wb < wa * 0.85:
        out["length"] = f"shorter ({wa} → {wb} words)"
    elif wb > wa * 1.15:
        out["length"] = f"longer ({wa} → {wb} words)"
    first_a = next((line.strip() for line in a.split("\n") if line.strip()), "")
    first_b = next((line.strip() for line in b.split("\n") if line.strip()), "")
    if first_a != first_b and (_GREETING.match(first_a) or _GREETING.match(first_b)):
        out["greeting"] = f"{_short(first_a, 40)!r} → {_short(first_b, 40)!r}"
    if "greeting" in out:  # the greeting line is named already: look for a change after it
        a, b = a.replace(first_a, "", 1), b.replace(first_b, "", 1)
    sa, sb = _sentences(a), _sentences(b)
    for i in range(max(len(sa), len(sb))):
        x, y = (sa[i] if i < len(sa) else ""), (sb[i] if i < len(sb) else "")
        if x != y:
            out["first_change"] = f"{_short(x) or '(nothing)'!r} → {_short(y) or '(removed)'!r}"
            break
    parts = [p for p in (out.get("length"), f"different greeting ({out['greeting']})" if "greeting" in out else None,
                         f"first changed sentence: {out['first_change']}" if "first_change" in out else None) if p]
    out["summary"] = ("; ".join(parts) or "reworded")[:300]
    return out
