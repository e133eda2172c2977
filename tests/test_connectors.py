"""Connectors declare what they take and touch; a tool receives only that (its settings, secrets, state)."""

from __future__ import annotations

import json

import pytest

from meshclaw.connectors.email.settings import EmailSettings
from meshclaw.connectors.registry import known_events
from meshclaw.domain.config_file import parse_config
from meshclaw.domain.connector import NoSettings, installed_connectors, load_connector
from meshclaw.domain.errors import NotAuthorized
from meshclaw.domain.secrets import Secrets
from meshclaw.runtime.context import RunDeps
from meshclaw.runtime.tool_context import tool_context
from meshclaw.store.facade import Store
from tests.conftest import write_config
from tests.runtime_support import run, runtime
from tests.support.probe_connector import ProbeSettings

PROBE_CONFIG = """
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  script:
    kind: scripted
    turns:
      - {tool: probe.look, args: {ref: "env:OTHER_TOKEN"}}
      - {text: done}
agents:
  - name: prober
    owner: alice
    instructions: Look around.
    model: script
    autonomy: auto
    toolsets:
      probe:
        module: tests.support.probe_connector:connector
        settings: {token: "env:PROBE_TOKEN", label: seen}
        grants: [probe.look]
"""

MAIL = """
users: [{id: alice, name: Alice, email: alice@example.com}]
models: {script: {kind: scripted, turns: [{text: done}]}}
agents:
  - name: mailer
    owner: alice
    instructions: Read mail.
    model: script
    toolsets:
      email:
        settings:
          imap_host: 127.0.0.1
          imap_hots: mail.example.com
          username: alice
          password: "secret:alice_mail"
          address: alice@example.com
        grants: [email.list]
"""


@pytest.fixture
def fresh_connectors():
    installed_connectors.cache_clear()
    load_connector.cache_clear()
    yield
    installed_connectors.cache_clear()
    load_connector.cache_clear()


def test_builtin_connectors_come_from_the_entry_point_group():
    installed = installed_connectors()
    assert {"notes", "clock", "email", "calendar", "reader"} <= set(installed)
    assert installed["email"] == "meshclaw.connectors.declarations:email"
    email = load_connector("email")
    assert email.settings is EmailSettings and email.events == ("email.received",)
    assert email.secrets(EmailSettings(imap_host="127.0.0.1", username="a", password="env:MAIL_PW",
                                       address="a@example.com")) == ["env:MAIL_PW"]
    assert load_connector("notes").state == "notes" and load_connector("clock").settings is NoSettings
    assert known_events()["email.received"] == "email"


def test_a_connector_another_package_installs_is_found(tmp_path, monkeypatch, fresh_connectors):
    dist = tmp_path / "acme_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[meshclaw.connectors]\nprobe = tests.support.probe_connector:connector\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = load_connector("probe")
    assert probe.name == "probe" and probe.settings is ProbeSettings
    assert known_events()["probe.poked"] == "probe"


def test_a_module_toolset_gets_no_store_and_only_its_own_secrets(home):
    config = parse_config("""
users: [{id: alice, name: Alice, email: alice@example.com}]
models: {script: {kind: scripted, turns: [{text: done}]}}
agents:
  - {name: counter, owner: alice, instructions: x, model: script,
     toolsets: {counter: {module: "tests.support.counter_tools:toolset", grants: [counter.get]}}}
""", home / "meshclaw.yaml")
    (home / "secrets.env").write_text("other=very-secret\n")
    store = Store(home)
    deps = RunDeps(run_id="r1", agent=config.agents[0], owner=config.users[0], config=config, store=store,
                   secrets=Secrets(home / "secrets.env"))
    assert deps.secret("secret:other") == "very-secret"  # the run could resolve it...
    ctx = tool_context(deps, "counter")
    assert not hasattr(ctx, "store") and not hasattr(ctx, "config") and not hasattr(ctx, "secrets")
    assert isinstance(ctx.settings, NoSettings) and ctx.state is None
    with pytest.raises(NotAuthorized, match="did not declare the secret"):
        ctx.secret("secret:other")  # ...a tool of a connector that declared no secret cannot
    with pytest.raises(NotAuthorized, match="'model' capability"):
        ctx.model()
    assert ctx.idempotency_key("call-7") == deps.idempotency_key("call-7")


def test_notes_state_is_the_owners_notes_only(home):
    config = parse_config("""
users: [{id: alice, name: Alice}, {id: bob, name: Bob}]
models: {script: {kind: scripted, turns: [{text: done}]}}
agents:
  - {name: a, owner: alice, instructions: x, model: script, toolsets: {notes: {grants: [notes.list]}}}
  - {name: b, owner: bob, instructions: x, model: script, toolsets: {notes: {grants: [notes.list]}}}
""", home / "meshclaw.yaml")
    store = Store(home)
    store.notes.add("k1", owner="alice", agent="a", run_id="r0", text="alice's plan")
    deps = RunDeps(run_id="r1", agent=config.agents[1], owner=config.users[1], config=config, store=store,
                   secrets=Secrets(None))
    bobs = tool_context(deps, "notes").state
    assert bobs.list() == []
    bobs.add("k2", "bob's plan")
    assert [n.text for n in bobs.list()] == ["bob's plan"]
    assert [n.text for n in store.notes.list("alice")] == ["alice's plan"]


def test_a_run_gives_the_tool_its_settings_and_declared_secret_only(home, monkeypatch):
    monkeypatch.setenv("PROBE_TOKEN", "token-1234")
    monkeypatch.setenv("OTHER_TOKEN", "other-5678")
    with runtime(home, PROBE_CONFIG) as rt:
        outcome, events = run(rt, "prober", "look around")
        assert outcome.status == "succeeded"
        [call] = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "call"]
    result = call.data["result"]
    assert "'has_store': False" in result and "'has_config': False" in result
    assert "'own_secret': 10" in result and "'label': 'seen'" in result
    assert "'other': 'NotAuthorized: the probe connector did not declare the secret env:…'" in result
    assert "other-5678" not in json.dumps([call.data, events], default=str)


def test_settings_that_no_longer_validate_fail_the_call_not_the_run(home, monkeypatch):
    # The configuration is checked when loaded; a connector's model is applied again at each call.
    with runtime(home, PROBE_CONFIG.replace('label: seen', 'label: [not, a, string]')) as rt:
        outcome, _ = run(rt, "prober", "look around")
        [call] = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "call"]
    assert outcome.status == "succeeded"
    assert call.verdict == "error" and call.reason.startswith("ConnectorProblem: toolsets.probe.settings.label:")


def _mail_secret(home) -> None:
    """`config check` also checks that the secrets a configuration names exist (0600 file)."""
    (home / "secrets.env").write_text("alice_mail=pw\n")
    (home / "secrets.env").chmod(0o600)


def test_config_check_names_a_misspelt_setting_with_its_line(home, cli):
    _mail_secret(home)
    write_config(home, MAIL)
    p = cli("config", "check")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "line 12: agents.0.toolsets.email.settings.imap_hots: unknown setting of the email connector" in p.stderr
    assert "imap_host" in p.stderr  # the settings it does take are named
    write_config(home, MAIL.replace("          imap_hots: mail.example.com\n", ""))
    assert cli("config", "check").returncode == 0


def test_config_check_knows_the_events_connectors_declare(home, cli):
    _mail_secret(home)
    fixed = MAIL.replace("          imap_hots: mail.example.com\n", "")
    write_config(home, fixed + "    triggers: [{event: email.recieved, task: triage}]\n")
    p = cli("config", "check")
    assert p.returncode == 2
    assert "line 16: agents.0.triggers.0.event: unknown event 'email.recieved' (known: " in p.stderr
    assert "email.received" in p.stderr.split("(known: ")[1]  # every installed connector's events are listed
    write_config(home, fixed + "    triggers: [{event: email.received, task: triage}]\n")
    assert cli("config", "check").returncode == 0
    clock_only = fixed.split("    toolsets:")[0] + "    toolsets: {clock: {grants: [clock.now]}}\n"
    write_config(home, clock_only + "    triggers: [{event: email.received, task: triage}]\n")
    p = cli("config", "check")
    assert p.returncode == 2
    assert "agents.0.triggers.0.event: email.received comes from the email connector: give agent mailer the email " \
           "toolset" in p.stderr


def test_config_check_knows_the_readers_model_must_be_defined(home, cli):
    write_config(home, """
users: [{id: alice, name: Alice}]
models: {script: {kind: scripted, turns: [{text: done}]}}
agents:
  - name: reader
    owner: alice
    instructions: x
    model: script
    toolsets:
      reader: {settings: {model: extractor}, grants: [reader.extract]}
""")
    p = cli("config", "check")
    assert p.returncode == 2
    assert "line 9: agents.0.toolsets.reader.settings.model: 'extractor' is not defined under 'models'" in p.stderr


def test_a_module_connectors_events_can_trigger_its_agent(home, cli):
    write_config(home, PROBE_CONFIG + "    triggers: [{event: probe.poked, task: look}]\n")
    assert cli("config", "check", env={"PROBE_TOKEN": "token-1234"}).returncode == 0
    write_config(home, PROBE_CONFIG + "    triggers: [{event: probe.pokd, task: look}]\n")
    p = cli("config", "check")
    assert p.returncode == 2 and "unknown event 'probe.pokd' (known: " in p.stderr
    assert {"email.received", "probe.poked"} <= set(p.stderr.split("(known: ")[1].split(")")[0].split(", "))
