"""Turning failures into one clear line: bad input never shows a traceback.

Errors are mapped by type (``meshclaw.domain.errors``), never by class name. An error's text may
quote outside content (a server's answer, a mail header): it is neutralised like every printout
(``meshclaw.domain.visible_text.neutralise``), so it cannot carry a terminal escape sequence.
"""

from __future__ import annotations

from meshclaw.domain.environment import environment


def friendly(e: BaseException) -> tuple[str, int]:
    """``(one line for a person, exit code)`` for any exception that reached the command line, with
    every control character shown as a marker."""
    from meshclaw.domain.visible_text import neutralise

    message, code = _friendly(e)
    return neutralise(message), code


def _friendly(e: BaseException) -> tuple[str, int]:
    from meshclaw.domain.config_file import ConfigError
    from meshclaw.domain.errors import MeshclawError

    if isinstance(e, ConfigError):
        lines = [f"{e.path}: {p}" for p in e.problems]
        return "invalid configuration\n  " + "\n  ".join(lines), e.exit_code
    if isinstance(e, MeshclawError):
        return e.one_line(), getattr(e, "code", e.exit_code)
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0]), 2
    if environment().debug:
        raise e
    first = (str(e).strip().splitlines() or [""])[0][:300]  # a library's message can run to many lines (SQL...)
    if type(e).__module__.startswith("sqlalchemy"):
        return (f"the store could not be read or written ({first}); check the data dir and database, then "
                f"`meshclaw audit verify` (set MESHCLAW_DEBUG=1 for the traceback)", 1)
    return f"unexpected error: {type(e).__name__}: {first} (set MESHCLAW_DEBUG=1 for the traceback)", 1
