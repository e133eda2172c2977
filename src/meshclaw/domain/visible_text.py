"""Text a person reads exactly as it is: invisible and control characters shown, cuts marked.

Outside content (mail, events, MCP output) and model answers may carry characters that a terminal
or a reader does not show as themselves: C0/C1 controls (ESC starts the terminal's escape
sequences: ``ESC ] 0;title BEL`` renames the window, ``ESC [ 2J`` clears the screen, a CR
overwrites the line), bidirectional overrides and isolates (U+202A–202E, U+2066–2069, U+200E/F,
U+061C: ``RLO`` makes ``moc.live@eve`` read as ``eve@evil.com``) and zero-width or other format
characters (U+200B–200D, U+2060, U+FEFF, the tag characters U+E0000–E007F that hide text from a
reader). ``visible`` replaces each with a marker such as ``⟨U+202E⟩`` so that what a person
approves or reads is what runs; it is linear in the text's length (one precompiled regex).

``clip`` shortens a value for display and says how much it cut, so a cut is never silent.

Pure functions, no imports above the standard library: every surface (CLI, chat, MCP server) uses them.
"""

from __future__ import annotations

import re

# Every code point of Unicode's Cc (control) and Cf (format) categories, plus the line and paragraph
# separators (Zl, Zp). Kept as literal ranges so importing costs nothing; tests/test_terminal_escapes.py
# checks it against ``unicodedata`` for every code point.
_INVISIBLE_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)


def _char_class(ranges: tuple[tuple[int, int], ...], keep: str = "") -> re.Pattern[str]:
    parts = []
    for lo, hi in ranges:
        for keep_char in sorted(keep):  # split a range around each kept character, lowest first
            k = ord(keep_char)
            if lo <= k <= hi:
                parts += [(lo, k - 1)] if lo <= k - 1 else []
                lo = k + 1
        if lo <= hi:
            parts.append((lo, hi))
    return re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in parts) + "]")


_ALL = _char_class(_INVISIBLE_RANGES)
_BUT_LINES = _char_class(_INVISIBLE_RANGES, keep="\n\t")


def marker(char: str) -> str:
    """``⟨U+202E⟩``: how one invisible or control character is shown."""
    return f"⟨U+{ord(char):04X}⟩"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, bidi, zero-width and other format character replaced by its
    marker (``"pay\\u202eevil"`` → ``"pay⟨U+202E⟩evil"``). ``keep_newlines``: leave LF and TAB as they
    are (multi-line text in a terminal); CR is always shown, since it overwrites the line.

    Linear in ``len(text)``; a text without such characters comes back unchanged."""
    pattern = _BUT_LINES if keep_newlines else _ALL
    return pattern.sub(lambda m: marker(m.group()), text)


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds any character ``visible`` would mark."""
    return _ALL.search(text) is not None


def neutralise(text: str) -> str:
    """What a terminal may print of outside text or a model answer: ``visible`` keeping LF and TAB,
    so no escape sequence (ESC/CSI/OSC, C1 CSI U+009B), bell, backspace, CR or bidi control reaches it."""
    return visible(text, keep_newlines=True)


def clip(text: str, limit: int, *, how_to_see_all: str = "") -> str:
    """``text`` if it has at most ``limit`` characters, else its first ``limit`` characters followed by
    a visible mark of the cut: ``…⟨+1,234 characters not shown; --full shows all⟩`` (``how_to_see_all``
    is the hint after ``;``). Never cuts silently."""
    if len(text) <= limit:
        return text
    hint = f"; {how_to_see_all}" if how_to_see_all else ""
    return f"{text[:limit]}…⟨+{len(text) - limit:,} characters not shown{hint}⟩"
