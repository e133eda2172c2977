"""The first hour of a new user: the starter, `init --with`, `config check` on the machine, and the demo."""

from __future__ import annotations

import os
import re

import pytest

from meshclaw.domain.config_file import parse_config
from meshclaw.surfaces.cli.starter import SECTIONS, parse_sections, secrets_needed, starter_text, uncomment, TEMPLATE


def _secrets(home, names, mode=0o600):
    path = home / "secrets.env"
    path.write_text("".join(f"{n}=value-of-{n}\n" for n in names), encoding="utf-8")
    path.chmod(mode)
    return path


# Every block alone, the two that share the `triggers:` line, and all of them together (the blocks are
# independent otherwise, so larger combinations add nothing a test could catch).
@pytest.mark.parametrize("combo", [(s,) for s in SECTIONS] + [("schedule", "events"), tuple(SECTIONS)],
                         ids=lambda c: ",".join(c))
def test_every_with_combination_passes_config_check(cli, home, combo):
    p = cli("init", "--with", ",".join(combo))
    assert p.returncode == 0, p.stderr
    sections = parse_sections(",".join(combo))
    _secrets(home, secrets_needed(sections))
    check = cli("config", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "reaches other people" not in check.stdout  # every external grant in the examples asks
    text = (home / "meshclaw.yaml").read_text()
    for name in sections:  # each chosen block is really in the file, uncommented
        marker = {"email": "\n      email:\n", "calendar": "\n      calendar:\n", "reader": "\n      reader:\n",
                  "mcp": "\n      crm:\n", "module": "\n      links:\n", "budget": "\n    budget:\n",
                  "schedule": '\n      - cron: "0 8 * * 1-5"', "events": "\n      - event: email.received"}[name]
        assert marker in text, name


def test_all_blocks_uncommented_cover_every_example():
    config = parse_config(uncomment(TEMPLATE.read_text(), tuple(SECTIONS)), TEMPLATE)
    agent = config.agent("assistant")
    assert set(agent.toolsets) == {"notes", "clock", "email", "calendar", "reader", "crm", "links"}
    kinds = {k for ts in agent.toolsets.values() for g in ts.grants for c in g.when.values() for k in c.model_fields_set}
    assert kinds == {"equals", "one_of", "domain_in", "matches", "max", "max_items"}
    grants = [g for ts in agent.toolsets.values() for g in ts.grants]
    assert any(g.limit and g.limit.per_run and g.limit.per_day for g in grants)
    external = {"email.send", "calendar.create", "calendar.respond", "crm.update_customer"}
    assert all(g.approval == "always" for g in grants if g.tool in external)
    assert agent.budget.tokens_per_day and agent.budget.cost_per_month
    assert [t.cron for t in agent.triggers if t.cron] == ["0 8 * * 1-5"] and agent.triggers[0].timezone
    assert [t.event for t in agent.triggers if t.event] == ["email.received"]


def test_starter_without_blocks_is_the_safe_default():
    config = parse_config(starter_text(login="someone"), TEMPLATE)
    for agent in config.agents:  # an agent on auto writes nothing beyond its owner's own notes
        writes = {g.tool for ts in agent.toolsets.values() for g in ts.grants} - {"notes.list", "clock.now"}
        assert agent.autonomy != "auto" or writes <= {"notes.add"}, agent.name
    assert config.local_users == {"someone": "alice"}


def test_init_with_unknown_block_is_one_clear_line(cli, home):
    p = cli("init", "--with", "email,fax")
    assert p.returncode != 0 and not (home / "meshclaw.yaml").exists()
    assert "unknown --with fax (known: email, calendar" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_init_names_the_secrets_to_add(cli, home):
    p = cli("init", "--with", "events", check=True)
    assert "with email, events" in p.stdout and "alice_mail" in p.stdout


def test_config_check_names_each_missing_secret_with_its_line(cli, home):
    cli("init", "--with", "calendar,mcp", check=True)
    _secrets(home, ["alice_mail"])
    p = cli("config", "check")
    assert p.returncode != 0
    text = (home / "meshclaw.yaml").read_text().splitlines()
    line = next(i + 1 for i, t in enumerate(text) if "password: secret:alice_calendar" in t)
    assert f"line {line}: " in p.stderr and f"{home / 'secrets.env'} has no line alice_calendar=..." in p.stderr
    assert "secret:crm_token" in p.stderr and "alice_mail=" not in p.stderr


def test_config_check_names_a_missing_environment_variable(cli, home):
    from tests.conftest import write_config

    text = starter_text(("email",), login="x").replace("secret:alice_mail", "env:FIRST_HOUR_MAIL_PW")
    write_config(home, text)
    assert "FIRST_HOUR_MAIL_PW" not in os.environ
    p = cli("config", "check")
    assert p.returncode != 0 and "environment variable FIRST_HOUR_MAIL_PW is not set" in p.stderr
    assert cli("config", "check", env={"FIRST_HOUR_MAIL_PW": "pw"}).returncode == 0


def test_config_check_without_a_secrets_file_says_how_to_create_it(cli, home):
    cli("init", "--with", "email", check=True)
    p = cli("config", "check")
    assert p.returncode != 0 and "there is no secrets file" in p.stderr and "chmod 600" in p.stderr


def test_config_check_refuses_a_secrets_file_others_can_read(cli, home):
    cli("init", check=True)
    path = _secrets(home, ["unused"], mode=0o644)
    p = cli("config", "check")
    assert p.returncode != 0
    assert f"{path} is readable by others (mode 0644): run `chmod 600 {path}`" in p.stderr
    path.chmod(0o600)
    assert cli("config", "check").returncode == 0


def test_config_check_says_the_bundled_model_is_not_installed(cli, home):
    cli("init", check=True)
    p = cli("config", "check", check=True)
    line = next(i + 1 for i, t in enumerate((home / "meshclaw.yaml").read_text().splitlines()) if "kind: bundled" in t)
    assert re.search(rf"warning: line {line}: models\.local\.kind: the bundled model is not installed .*"
                     r"run `meshclaw model install`", p.stdout)


def test_demo_shows_a_rehearsal_a_denial_and_an_approval(cli, home):
    p = cli("demo", "--tour", "--scripted", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    out = " ".join(p.stdout.split())
    assert "you just saw a rehearsal" in out and "would notes.add" in out
    assert "refused clock.now" in out and "must be one of UTC, Europe/Paris" in out and "you just saw a denial: 1 call" in out
    assert "you just saw an approval: notes.add waited for alice, was approved and ran 1 time(s)" in out
    runs = cli("runs", "--json", check=True).stdout
    assert '"scripted-assistant"' in runs and '"demo"' in runs
    # the person's own agent was not promoted behind their back
    again = cli("run", "--here", "scripted-assistant", "remember x")
    assert "rehearsal" in (again.stdout + again.stderr)


def test_config_check_warns_of_an_external_tool_an_auto_agent_calls_without_asking(cli, home):
    from tests.conftest import write_config

    text = starter_text(("email",), login="x")
    line = "            approval: always                                 # every mail waits for Alice\n"
    assert line in text
    write_config(home, text.replace(line, ""))
    _secrets(home, ["alice_mail"])
    p = cli("config", "check", check=True)
    where = next(i + 1 for i, t in enumerate((home / "meshclaw.yaml").read_text().splitlines()) if "tool: email.send" in t)
    assert (f"warning: line {where}: agents.0.toolsets.email.grants.5: assistant runs on autonomy auto and may call "
            "email.send, which reaches other people, without asking: add `approval: always`") in " ".join(p.stdout.split())
