"""Shared fixtures: a private data dir per test, the CLI as a subprocess, a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.fixtures_model import bundled_server  # noqa: F401 (a session-wide fixture)

ROOT = Path(__file__).resolve().parents[1]
MESHCLAW = [sys.executable, "-m", "meshclaw.surfaces.cli.main"]


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


def write_config(home: Path, text: str) -> Path:
    path = home / "meshclaw.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def cli(home):
    """Run the real ``meshclaw`` command in a new process, as a person would."""

    def run(*args: str, env: dict | None = None, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
        e = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home), **(env or {}))
        p = subprocess.run([*MESHCLAW, *args], capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT)
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
