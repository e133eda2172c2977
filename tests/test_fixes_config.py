"""What a new user found: a secret in the live step lines, a management loop every command but
`config check` used, configuration files readable by others, short answers refused, `demo` options
silently ignored, `start` saying "re-enabled" of an agent that was not stopped."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from meshclaw.domain.config_file import ConfigError, parse_config
from tests.builders import Org, call, say
from tests.cli_support import in_process
from tests.conftest import write_config
from tests.runtime_support import run, runtime

SECRET = "Hunter2SuperSecret"
PATH = Path("meshclaw.yaml")


def mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(path.stat().st_mode)


def _keeper(*turns) -> Org:  # type: ignore[no-untyped-def]
    return (Org().organisation().user("alice", email="alice@example.com")
            .scripted("script", *turns)
            .agent("keeper", instructions="Keep notes.", model="script", autonomy="auto",
                   toolsets={"notes": [{"tool": "notes.add", "when": {"text": {"matches": "[^!]*"}}}]})
            .local_user("alice"))


# --- 1. live events -------------------------------------------------------------------------------

def test_live_run_events_never_show_a_secret_value(home):
    (home / "secrets.env").write_text(f"PW={SECRET}\n")
    (home / "secrets.env").chmod(0o600)
    config = _keeper(call("notes.add", text=f"pw {SECRET} for the wiki"),
                     call("notes.add", text=f"pw {SECRET}!"),  # refused by the condition: a deny event
                     say(f"saved {SECRET}"))
    with runtime(home, config) as rt:
        outcome, events = run(rt, "keeper", "note the password")
    shown = json.dumps(events, ensure_ascii=False)
    assert SECRET not in shown, shown
    tools = [e for e in events if e["kind"] == "tool"]
    assert [t["verdict"] for t in tools] == ["allow", "deny"]
    assert all(t["args"]["text"].startswith("pw [redacted]") for t in tools)


# --- 2. a loop in the management chain --------------------------------------------------------------

LOOP = """\
organisation: {name: Example}
users:
  - {id: alice, name: Alice, email: alice@example.com, manager: bob}
  - {id: bob, name: Bob, email: bob@example.com, manager: carol}
  - {id: carol, name: Carol, email: carol@example.com, manager: alice}
local_users: {root: alice}
"""


def test_a_management_loop_is_a_configuration_error_for_every_command(home, cli):
    with pytest.raises(ConfigError) as e:
        parse_config(LOOP, PATH)
    assert [str(p) for p in e.value.problems] == [
        "line 3: users.0.manager: the management chain loops: alice → bob → carol → alice"]
    write_config(home, LOOP)
    for args in (("runs",), ("audit", "show"), ("config", "check")):
        p = cli(*args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "line 3: users.0.manager: the management chain loops: alice → bob → carol → alice" in p.stderr


def test_a_loop_in_the_managers_history_and_a_self_manager_are_errors_too():
    history = LOOP.replace("manager: carol}", "manager: dave}").replace(
        "local_users", "  - {id: dave, name: Dave, email: dave@example.com}\nlocal_users")
    assert parse_config(history, PATH).user("bob").manager == "dave"  # no loop today
    looped_before = history.replace(
        "manager: dave}", "manager: dave, manager_since: 2026-01-01,\n     manager_history: [{valid_from: 2025-01-01, manager: carol}]}")
    with pytest.raises(ConfigError) as e:
        parse_config(looped_before, PATH)
    assert "the management chain loops from 2025-01-01: alice → bob → carol → alice" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config(looped_before.replace("manager: carol}]", "manager: zed}]"), PATH)
    assert "'zed' is not a known user (earlier manager of bob)" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config("users:\n  - {id: alice, name: Alice, email: a@example.com, manager: alice}\n", PATH)
    assert [str(p) for p in e.value.problems] == ["line 2: users.0.manager: alice cannot be their own manager"]


# --- 3. file modes ------------------------------------------------------------------------------------

@pytest.fixture
def umask_022():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_init_makes_the_data_dir_and_the_configuration_private(tmp_path, monkeypatch, umask_022):
    home = tmp_path / "new" / "home"
    monkeypatch.setenv("MESHCLAW_HOME", str(home))
    assert in_process(("init",), {}).returncode == 0
    assert mode(home) == 0o700 and mode(home / "meshclaw.yaml") == 0o600
    (home / "meshclaw.yaml").chmod(0o644)
    assert in_process(("init", "--force"), {}).returncode == 0
    assert mode(home / "meshclaw.yaml") == 0o600 and mode(home / "meshclaw.yaml.bak") == 0o600


def test_agents_add_leaves_the_configuration_private(home, umask_022):
    from tests.test_agents_install import _write

    path = _write(home)
    path.chmod(0o644)
    p = in_process(("agents", "add", "inbox-triage", "--owner", "alice"), {})
    assert p.returncode == 0, p.stderr
    assert mode(path) == 0o600 and "inbox-triage" in path.read_text()


def test_the_demo_tour_writes_a_private_configuration(home, umask_022):
    p = in_process(("demo", "--tour", "--scripted"), {})
    assert p.returncode == 0, p.stdout + p.stderr
    assert mode(home / "meshclaw.yaml") == 0o600
    assert "next: `meshclaw runs`" in p.stdout


# --- 5. demo options ---------------------------------------------------------------------------------

def test_demo_refuses_options_of_the_other_mode(home):
    p = in_process(("demo", "--scripted", "--task", "x"), {})
    assert p.returncode == 2
    assert p.stderr.strip() == ("meshclaw: --task applies to the policy tour only: add --tour "
                                "(the night's tasks are the agents' own)")
    p = in_process(("demo", "--tour", "--night", "large"), {})
    assert p.returncode == 2 and "--night applies to the night only" in p.stderr
    assert not (home / "meshclaw.yaml").exists() and not (home / "demo").exists()


def test_a_failed_tour_prints_no_next_steps(home):
    write_config(home, _keeper(say("ok")))
    p = in_process(("demo", "--tour", "--scripted"), {})
    assert p.returncode != 0
    assert "has no agent 'scripted-assistant'" in p.stderr
    assert "next:" not in p.stdout and "promote scripted-assistant" not in p.stdout


# --- 6. start on an agent that is not stopped ---------------------------------------------------------

def test_start_says_when_an_agent_was_not_stopped(home, cli):
    write_config(home, _keeper(say("ok")))
    out = cli("start", "keeper", check=True).stdout
    assert out.strip() == "keeper was not stopped: nothing to re-enable"
    assert "re-enabled" not in out
    cli("stop", "keeper", check=True)
    assert cli("start", "keeper", check=True).stdout.strip() == "re-enabled keeper"
