"""The starter configuration ``meshclaw init`` writes, with the example blocks a person asked for.

The template (``templates/starter.yaml``) carries working examples as commented blocks between a
``# [with NAME,...]`` line and a ``# [end]`` line. ``--with NAME`` writes the blocks that name it
uncommented: the first ``# `` after the indentation of each line is removed, nothing else changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from meshclaw.domain.errors import UsageError

TEMPLATE = Path(__file__).parent / "templates" / "starter.yaml"
STARTER_LOGIN = "  you: alice"  # the starter's local_users line; init writes the login running it

# Every block name, with the blocks it cannot work without (a mail trigger needs the email toolset).
SECTIONS: dict[str, tuple[str, ...]] = {
    "email": (), "calendar": (), "reader": (), "mcp": (), "module": (), "budget": (),
    "schedule": (), "events": ("email",),
}
# Secret names each block refers to, so a person (and a test) knows what secrets.env needs.
SECRETS: dict[str, tuple[str, ...]] = {
    "email": ("alice_mail",), "calendar": ("alice_calendar", "alice_mail"), "mcp": ("crm_token",),
}

_START = re.compile(r"^\s*# \[with ([a-z,]+)\]")
_END = re.compile(r"^\s*# \[end\]\s*$")


def parse_sections(value: str | None) -> list[str]:
    """``"email,calendar"`` → the named blocks plus those they need, in template order.

    Raises UsageError naming an unknown block and the known ones."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise UsageError(f"unknown --with {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    chosen = set(names)
    for n in names:
        chosen.update(SECTIONS[n])
    return [n for n in SECTIONS if n in chosen]


def starter_text(sections: list[str] | tuple[str, ...] = (), login: str | None = None) -> str:
    """The starter configuration with the blocks of ``sections`` uncommented and ``login`` (default:
    this machine's login) mapped to its first user."""
    from meshclaw.operations.actor import os_login

    text = uncomment(TEMPLATE.read_text(encoding="utf-8"), sections)
    login = os_login() if login is None else login
    return text.replace(STARTER_LOGIN, f"  {login}: alice", 1) if ":" not in login else text


def uncomment(text: str, sections: list[str] | tuple[str, ...]) -> str:
    """``text`` with every block that names one of ``sections`` uncommented (see the module docstring)."""
    out, active = [], False
    for line in text.splitlines(keepends=True):
        start = _START.match(line)
        if start:
            active = bool(set(start.group(1).split(",")) & set(sections))
            out.append(line)
            continue
        if _END.match(line):
            active = False
            out.append(line)
            continue
        if active:
            indent = len(line) - len(line.lstrip(" "))
            rest = line[indent:]
            line = line[:indent] + (rest[2:] if rest.startswith("# ") else rest[1:] if rest.startswith("#") else rest)
        out.append(line)
    return "".join(out)


def secrets_needed(sections: list[str] | tuple[str, ...]) -> list[str]:
    """The ``secret:`` names the chosen blocks refer to, each once."""
    return sorted({s for n in sections for s in SECRETS.get(n, ())})
