"""Turning failures into one clear line: bad input never shows a traceback."""

from __future__ import annotations

import os


def friendly(e: BaseException) -> tuple[str, int]:
    from meshclaw.domain.config_file import ConfigError

    from .app_context import CliError

    if isinstance(e, CliError):
        return str(e), e.code
    if isinstance(e, ConfigError):
        lines = [f"{e.path}: {p}" for p in e.problems]
        return "invalid configuration\n  " + "\n  ".join(lines), 2
    name = type(e).__name__
    if name in {"StoreError", "ModelUnavailable", "ModelFileInvalid", "ModelInstallError", "SecretMissing",
                "UnknownToolset", "ToolsetProblem"}:
        return str(e), 1
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0]), 2
    if os.environ.get("MESHCLAW_DEBUG"):
        raise e
    return f"unexpected error: {name}: {e} (set MESHCLAW_DEBUG=1 for the traceback)", 1
