"""Credentials never sit in the configuration, an error, a run or a log: URLs with ``user:password@``
or ``?token=`` and literal passwords are refused at ``config check`` with the line (S5); connector
errors, run errors and outputs, and MCP server logs are redacted, ``env:`` secrets like ``secret:`` ones."""

from __future__ import annotations

import asyncio
import stat
import sys

import pytest

from meshclaw.domain.credentials import strip_url_credentials, url_credential_problem
from tests.builders import Org, call, say
from tests.conftest import write_config

PASSWORD = "S3cr3t-Pa55word"

HEAD = """
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  script: {kind: scripted, turns: [{text: done}]}
"""


def check(home, cli, agents: str, models: str = ""):  # type: ignore[no-untyped-def]
    write_config(home, HEAD + models + "agents:\n" + agents)
    return cli("config", "check")


def line_of(home, needle: str) -> int:
    return next(i for i, line in enumerate((home / "meshclaw.yaml").read_text().splitlines(), 1) if needle in line)


def test_a_caldav_url_with_a_password_is_refused_with_its_line(home, cli):
    """S5: the password would appear in every connection error."""
    (home / "secrets.env").write_text("cal=x\n")
    (home / "secrets.env").chmod(0o600)
    p = check(home, cli, f"""
  - name: planner
    owner: alice
    instructions: x
    model: script
    toolsets:
      calendar:
        settings:
          url: https://alice:{PASSWORD}@cal.example.com/
          username: alice
          password: secret:cal
""")
    assert p.returncode != 0
    assert f"line {line_of(home, 'url: https://alice')}: " in p.stderr
    assert "carries a credential in the URL (user:password@)" in p.stderr
    assert PASSWORD not in p.stderr + p.stdout


@pytest.mark.parametrize("setting, value, needle", [
    ("imap_host", f"alice:{PASSWORD}@imap.example.com", "user:password@host"),
    ("imap_host", f"imaps://alice:{PASSWORD}@imap.example.com", "user:password@"),
])
def test_credentials_in_any_connector_setting_are_refused(home, cli, setting, value, needle):
    (home / "secrets.env").write_text("mail=x\n")
    (home / "secrets.env").chmod(0o600)
    p = check(home, cli, f"""
  - name: mailer
    owner: alice
    instructions: x
    model: script
    toolsets:
      email:
        settings: {{{setting}: "{value}", username: alice, password: "secret:mail", address: alice@example.com}}
""")
    assert p.returncode != 0 and needle in p.stderr and f"line {line_of(home, setting)}" in p.stderr
    assert PASSWORD not in p.stderr + p.stdout


def test_a_token_in_an_mcp_url_or_a_model_base_url_is_refused(home, cli):
    p = check(home, cli, """
  - name: crm
    owner: alice
    instructions: x
    model: script
    toolsets:
      crm:
        mcp: {url: "https://crm.example.com/mcp?access_token=abc123def"}
""", models="""  remote: {kind: openai, model: gpt-x, base_url: "https://bob:hunter22@llm.example.com/v1"}
""")
    assert p.returncode != 0
    assert f"line {line_of(home, 'access_token')}" in p.stderr and "query parameter 'access_token'" in p.stderr
    assert f"line {line_of(home, 'base_url')}" in p.stderr
    assert "abc123def" not in p.stderr and "hunter22" not in p.stderr


def test_a_secret_in_an_mcp_server_command_line_is_refused(home, cli):
    p = check(home, cli, f"""
  - name: crm
    owner: alice
    instructions: x
    model: script
    toolsets:
      crm:
        mcp:
          command: crm-server
          args: ["--verbose", "--api-key={PASSWORD}", "--password",
                 "{PASSWORD}x", "--token", "env:CRM_TOKEN"]
""")
    assert p.returncode != 0 and PASSWORD not in p.stderr
    refusals = [line for line in p.stderr.splitlines() if "pass it to the server through mcp.env" in line]
    first, second = line_of(home, "args:"), line_of(home, "--token")
    assert len(refusals) == 2
    assert f"line {first}:" in refusals[0] and f"line {second}:" in refusals[1]


def test_a_literal_password_in_settings_is_one_line_naming_its_line(home, cli):
    p = check(home, cli, f"""
  - name: mailer
    owner: alice
    instructions: x
    model: script
    toolsets:
      email:
        settings:
          imap_host: imap.example.com
          username: alice
          password: {PASSWORD}
          address: alice@example.com
      counter:
        module: "tests.support.counter_tools:toolset"
        settings: {{api_key: {PASSWORD}}}
""")
    assert p.returncode != 0 and PASSWORD not in p.stderr + p.stdout
    refusals = [line for line in p.stderr.splitlines() if "secrets are never written into the config" in line]
    assert len(refusals) == 2  # once for each, never twice for one
    assert any(f"line {line_of(home, 'password: ')}:" in r for r in refusals)
    assert any(f"line {line_of(home, 'api_key')}:" in r for r in refusals)


def test_url_credentials_are_stripped_from_text_and_connector_errors():
    from meshclaw.connectors.calendar.errors import CalendarError

    text = f"GET https://alice:{PASSWORD}@cal.example.com/dav/?token=t0k3n&page=2 failed; https://T0KEN@h.example/x"
    clean = strip_url_credentials(text)
    assert PASSWORD not in clean and "t0k3n" not in clean and "T0KEN" not in clean and "page=2" in clean
    assert PASSWORD not in str(CalendarError(text)) and "[redacted]@cal.example.com" in str(CalendarError(text))
    assert url_credential_problem("alice@example.com") is None and url_credential_problem("https://h/?page=2") is None


CONFIG = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("failing.connect", url=f"https://alice:{PASSWORD}@cal.example.com/dav/"),
                    call("failing.whoami"), say("done"))
          .agent("worker", instructions="x", model="script", autonomy="auto",
                 toolsets={"failing": {"module": "tests.support.failing_tools:toolset",
                                       "grants": ["failing.connect", "failing.whoami"]}})
          .local_user("alice"))


def test_env_secrets_are_redacted_like_file_secrets(tmp_path, monkeypatch):
    """An ``env:`` secret the process resolved, and a ``secret:`` one, are redacted from the audit log."""
    from meshclaw.domain.secrets import Secrets, sanitise
    from meshclaw.store.facade import Store

    monkeypatch.setenv("MAIL_PASSWORD", "env-Pa55word-123")
    (tmp_path / "secrets.env").write_text("cal=file-Pa55word-456\n")
    secrets = Secrets(tmp_path / "secrets.env")
    assert secrets.resolve("env:MAIL_PASSWORD") == "env-Pa55word-123"
    store = Store(tmp_path / "home", secret_values=secrets.values)
    store.audit.append("e", "call", reason="login env-Pa55word-123 / file-Pa55word-456 refused",
                       data={"note": "env-Pa55word-123"})
    [r] = store.audit.records()
    assert r.reason == "login [redacted] / [redacted] refused" and r.data["note"] == "[redacted]"
    assert sanitise("env-Pa55word-123 file-Pa55word-456", secrets.values()) == "[redacted] [redacted]"


def test_a_failing_call_keeps_no_credential_anywhere(home, monkeypatch):
    """A connector error quoting a URL with a password and an ``env:`` secret, and a result echoing the
    secret: the audit log, the durable steps' stored outcomes, the events the console prints, and the
    run keep neither."""
    import textwrap

    from meshclaw.connectors.registry import resolve
    from meshclaw.domain.config_file import parse_config
    from meshclaw.domain.secrets import Secrets
    from meshclaw.runtime.engine import Runtime
    from meshclaw.store.facade import Store

    monkeypatch.setenv("WORKER_TOKEN", "env-T0ken-98765")
    config = parse_config(textwrap.dedent(CONFIG.yaml()), home / "meshclaw.yaml")
    secrets = Secrets(home / "secrets.env")
    secrets.resolve("env:WORKER_TOKEN")  # as a connector resolving its env: secret does
    store = Store(home, secret_values=secrets.values)
    store.agents.set_promoted("worker", True, "test")
    rt = Runtime(config, home, store, secrets, resolve)
    rt.launch()
    events: list[dict] = []
    try:
        async def go() -> str:
            run_id = await rt.start("worker", "connect", listeners=[lambda e: events.append(e.as_dict())])
            await rt.wait(run_id)
            return run_id

        run_id = asyncio.run(go())
        kept = " ".join(f"{r.reason} {r.data}" for r in store.audit.records(run_id=run_id))
        run = store.runs.get(run_id)
        steps = __import__("sqlite3").connect(home / "dbos.sqlite").execute(
            "SELECT output FROM operation_outputs").fetchall()
    finally:
        rt.shutdown()
    errors = [e.get("error") for e in events]  # what the console prints of the failure
    shown = f"{kept} {run.output} {run.error} {errors}"
    assert any(e and "token [redacted]" in e for e in errors)
    assert "https://[redacted]@cal.example.com/dav/" in kept and "token [redacted]" in kept
    assert PASSWORD not in shown and "env-T0ken-98765" not in shown
    # the tool's step output (what a recovered run replays) holds the redacted error too
    import base64

    stored = [base64.b64decode(o) for (o,) in steps if o]  # DBOS keeps step outputs pickled, base64-encoded
    assert any(b"token [redacted]" in o for o in stored) and not any(b"env-T0ken-98765" in o for o in stored)
    # a result echoing the secret reaches neither the step's stored output nor the model
    assert any(b"authenticated with [redacted]" in o for o in stored)
    results = [e.get("result") for e in events if e.get("kind") == "tool"]
    assert any(r and "authenticated with [redacted]" in r for r in results)


def test_mcp_server_log_is_private_and_redacted(tmp_path, monkeypatch):
    """A stdio server that prints the secret it was given and a URL with a password, then dies."""
    from meshclaw.connectors.mcp.client import build_server_toolset
    from meshclaw.connectors.mcp.errors import McpUnavailable
    from meshclaw.domain.mcp_config import McpServerConfig
    from meshclaw.domain.secrets import Secrets

    monkeypatch.setenv("CRM_TOKEN", "env-crm-T0ken-555")
    script = ("import os, sys; print('token', os.environ['CRM_TOKEN'], 'at https://bob:" + PASSWORD
              + "@crm.example.com/', file=sys.stderr); sys.exit(3)")
    cfg = McpServerConfig(command=sys.executable, args=["-c", script], env={"CRM_TOKEN": "env:CRM_TOKEN"}, timeout=20)
    toolset = build_server_toolset("crm", cfg, secrets=Secrets(None), log_dir=tmp_path / "logs")

    async def start() -> None:
        async with toolset:
            pass

    with pytest.raises(McpUnavailable) as failed:
        asyncio.run(start())
    log = tmp_path / "logs" / "mcp-crm.log"
    written = log.read_text()
    assert "token [redacted] at https://[redacted]@crm.example.com/" in written
    assert "env-crm-T0ken-555" not in written + str(failed.value) and PASSWORD not in written + str(failed.value)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_password_in_the_control_channels_url_is_refused_too(home, cli):
    write_config(home, HEAD + """agents: []
chat_control: {backend: matrix, url: "https://bot:ChatPw123@matrix.example.com", account: "@bot:example.com",
               token: "secret:bot"}
""")
    p = cli("config", "check")
    assert p.returncode != 0 and f"line {line_of(home, 'ChatPw123')}" in p.stderr
    assert "ChatPw123" not in p.stderr + p.stdout
