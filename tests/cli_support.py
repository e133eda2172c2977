"""The ``meshclaw`` command in this process (Typer's CliRunner) or in a new one, with one result shape.

Commands that only read or write the store and the configuration gain nothing from a new Python
process but its start-up time (a second or more each), so the ``cli`` fixture runs them here; the
rest (runs, the worker, resume, stop and approve, which reach a durable run) get a real process, as
do calls made with ``process=True`` (signals, the entry point's own one-line errors).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MESHCLAW = [sys.executable, "-m", "meshclaw.surfaces.cli.main"]

# First words of the commands that touch only the store and the configuration file.
IN_PROCESS = {
    ("runs",), ("audit",), ("alerts",), ("approvals",), ("grants",), ("config",), ("tools", "pins"),
    ("tools", "accept"), ("promote",), ("start",), ("init",),
}


def runs_in_process(args: tuple[str, ...]) -> bool:
    """Whether ``meshclaw ARGS`` is a store-only command (see ``IN_PROCESS``)."""
    return any(tuple(args[: len(words)]) == words for words in IN_PROCESS)


def in_process(args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``meshclaw ARGS`` through ``meshclaw.surfaces.cli.main.app`` with ``env`` added to os.environ.

    Known failures become ``meshclaw: <one line>`` on stderr with the exit code the entry point
    (``main.run``) would give, so a result reads the same as a subprocess's.
    """
    from typer.testing import CliRunner

    from meshclaw.surfaces.cli.errors import friendly
    from meshclaw.surfaces.cli.main import app

    # Without a terminal, a new process prints 80 columns wide; so does this one unless told otherwise.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80", **env}, catch_exceptions=True)
    stdout, stderr, code = result.stdout, result.stderr, result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        message, code = friendly(result.exception)
        stderr += f"meshclaw: {message}\n"
    return subprocess.CompletedProcess(["meshclaw", *args], code, stdout, stderr)


def in_subprocess(args: tuple[str, ...], env: dict[str, str], home: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run ``meshclaw ARGS`` in a new Python process with ``MESHCLAW_HOME=home`` and ``env`` added."""
    e = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), MESHCLAW_HOME=str(home), **env)
    return subprocess.run([*MESHCLAW, *args], capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT)
