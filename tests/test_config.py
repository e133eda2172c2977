"""Configuration: the starter config is valid; bad input is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshclaw.domain.config_file import ConfigError, parse_config

STARTER = Path(__file__).resolve().parents[1] / "src/meshclaw/surfaces/cli/templates/starter.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(text, Path("meshclaw.yaml"))
    return [str(p) for p in e.value.problems]


def test_starter_config_is_valid():
    config = parse_config(STARTER.read_text(), STARTER)
    assert {a.name for a in config.agents} == {"assistant", "scripted-assistant", "demo"}
    assert {g.tool for g in config.agent("assistant").toolsets["notes"].grants} == {"notes.add", "notes.list"}


def test_unknown_setting_points_at_its_line():
    out = problems("users:\n  - id: alice\n    name: A\n    colour: blue\n")
    assert out == ["line 4: users.0.colour: unknown setting (check the spelling; see `meshclaw init` for a commented example)"]


def test_literal_secret_is_refused():
    out = problems("models:\n  m:\n    kind: openai\n    model: x\n    api_key: sk-live-123\n")
    assert len(out) == 1 and out[0].startswith("line 5: models.m.api_key: secrets are never written into the config")
    assert "sk-live-123" not in out[0]


def test_cross_references_point_at_their_line():
    text = """users:
  - id: alice
    name: A
    manager: nobody
models:
  m: {kind: scripted, turns: [{text: hi}]}
agents:
  - name: a
    owner: carol
    instructions: x
    model: missing
"""
    assert problems(text) == [
        "line 4: users.0.manager: 'nobody' is not a known user",
        "line 9: agents.0.owner: 'carol' is not a known user",
        "line 11: agents.0.model: 'missing' is not defined under 'models'",
    ]


def test_bad_yaml_and_bad_grant():
    assert problems("users: [\n")[0].startswith("line 2: not valid YAML")
    out = problems("""users: [{id: alice, name: A}]
models: {m: {kind: scripted, turns: [{text: hi}]}}
agents:
  - name: a
    owner: alice
    instructions: x
    model: m
    toolsets:
      email:
        grants:
          - tool: email.send
            when: {to: {matches: "(["}}
""")
    assert len(out) == 1 and out[0].startswith("line 12: agents.0.toolsets.email.grants.0.when.to")
    assert "regular expression" in out[0]


def test_config_check_cli_reports_lines_and_exits_nonzero(home, cli):
    (home / "meshclaw.yaml").write_text("users:\n  - id: Alice!\n    name: A\n")
    p = cli("config", "check")
    assert p.returncode == 2
    assert "line 2: users.0.id" in p.stderr
    assert "Traceback" not in p.stderr


def test_init_then_check_then_refuses_to_overwrite(home, cli):
    assert cli("init").returncode == 0
    ok = cli("config", "check")
    assert ok.returncode == 0 and "OK (2 users, 3 models, 3 agents)" in ok.stdout
    again = cli("init")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_grant_for_a_tool_the_toolset_lacks_fails_check(home, cli):
    (home / "meshclaw.yaml").write_text("""users: [{id: alice, name: A}]
models: {m: {kind: scripted, turns: [{text: hi}]}}
agents:
  - {name: a, owner: alice, instructions: x, model: m, toolsets: {notes: {grants: [notes.delete]}}}
""")
    p = cli("config", "check")
    assert p.returncode == 2 and "line 4: agents.0.toolsets.notes.grants.0: toolset notes has no tool 'notes.delete'" in p.stderr


def test_an_empty_configuration_passes_with_a_warning_that_nothing_will_run(tmp_path):
    from meshclaw.operations.config import check_config

    path = tmp_path / "meshclaw.yaml"
    path.write_text("")
    summary = check_config(path, secrets_file=tmp_path / "secrets.env")
    assert (summary.users, summary.agents) == (0, 0)
    assert [str(w) for w in summary.warnings if "nothing will run" in str(w)] == [
        "no users and no agents defined: nothing will run (`meshclaw init` writes a commented starter; "
        "`meshclaw agents add TEMPLATE --owner USER` adds a flagship)"]
    assert not [w for w in check_config(STARTER, secrets_file=tmp_path / "secrets.env").warnings
                if "nothing will run" in str(w)]
