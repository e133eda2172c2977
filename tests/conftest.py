"""Shared fixtures: a private data dir per test, the CLI (store-only commands in this process, the rest
in a new one), the bundled model's server once per session, a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.builders import Org
from tests.cli_support import MESHCLAW, ROOT, in_process, in_subprocess, runs_in_process
from tests.fixtures_model import bundled_server  # noqa: F401 (a session-wide fixture)

__all__ = ["MESHCLAW", "ROOT", "write_config"]


@pytest.fixture(autouse=True)
def _private_model_dir(request, monkeypatch, tmp_path):
    """Only tests marked bundled_model see the shared model folder; the rest see a folder of their own
    (inside their data dir), so "not installed" and install tests never touch the real model."""
    if request.node.get_closest_marker("bundled_model") is None:
        monkeypatch.setenv("MESHCLAW_MODEL_DIR", str(tmp_path / "home" / "models"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("MESHCLAW_HOME", str(h))
    monkeypatch.delenv("MESHCLAW_CONFIG", raising=False)
    monkeypatch.delenv("MESHCLAW_DATABASE_URL", raising=False)
    return h


def write_config(home: Path, text: str | Org) -> Path:
    """Write the configuration file of ``home``: YAML text, or a ``tests.builders.Org``."""
    if not isinstance(text, str):
        return text.write(home)
    path = home / "meshclaw.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def cli(home):
    """Run the ``meshclaw`` command as a person would; its result has returncode, stdout and stderr.

    Store-only commands (``tests.cli_support.IN_PROCESS``: runs, audit, approvals, grants, config...)
    run in this process through Typer's CliRunner; the rest, and any call with ``process=True``, in a
    new process.
    """

    def run(*args: str, env: dict | None = None, timeout: float = 120, check: bool = False,
            process: bool = False) -> subprocess.CompletedProcess:
        if runs_in_process(args) and not process:
            p = in_process(args, env or {})
        else:
            p = in_subprocess(args, env or {}, home, timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"meshclaw {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    return run


@pytest.fixture
def pg_url():
    """A throwaway database on the PostgreSQL server at 127.0.0.1:5432 for one test, dropped after it."""
    psycopg = pytest.importorskip("psycopg")
    if os.environ.get("TEST_POSTGRES") == "absent":  # scripts/ensure-postgres.sh could not start one
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (scripts/ensure-postgres.sh said why)")
    name = f"meshclaw_test_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for the scale-out tests: {e}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        for db in (name, f"{name}_dbos"):
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
