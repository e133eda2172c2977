"""Bad input gets one clear line and a non-zero exit, never a traceback, and loses nothing."""

from __future__ import annotations

import pytest

from tests.builders import Org
from tests.conftest import write_config

UNMAPPED = (Org().user("alice")
            .model("remote", "openai", model="some-model", base_url="http://127.0.0.1:9/v1", timeout=3)
            .agent("asker", instructions="x", toolsets={"clock": ["clock.now"]}))
UNREACHABLE = UNMAPPED.local_user("alice")


@pytest.mark.slow
def test_new_agent_rehearses_until_promoted(home, cli):
    cli("init", check=True)
    p = cli("run", "scripted-assistant", "remember the Friday report", check=True)
    assert "this is a rehearsal" in p.stderr
    assert 'would notes.add {"text": "Prepare the Friday status report."}' in p.stdout
    assert "rehearsal: 1 write(s) captured, none executed" in p.stdout
    grants = cli("grants", "show", "scripted-assistant", check=True).stdout
    assert "It is in rehearsal" in grants


@pytest.mark.slow
def test_cli_run_scripted_and_show(home, cli):
    assert cli("init").returncode == 0
    cli("promote", "scripted-assistant", check=True)
    p = cli("run", "scripted-assistant", "remember the Friday report", check=True)
    assert "allow notes.add" in " ".join(p.stdout.split())
    assert "succeeded" in p.stdout
    run_id = p.stderr.strip().split()[-1]
    show = cli("runs", "show", run_id[:10], check=True)
    assert "guard allow notes.add" in show.stdout and "tokens:" in show.stdout
    assert "Noted: prepare the Friday status report." in show.stdout


@pytest.mark.slow
def test_unknown_agent(home, cli):
    cli("init", check=True)
    p = cli("run", "nobody", "do it")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["meshclaw: unknown agent 'nobody' (known: assistant, scripted-assistant, demo)"]


@pytest.mark.slow
def test_broken_config_keeps_the_store(home, cli):
    cli("init", check=True)
    cli("run", "scripted-assistant", "remember", check=True)
    good = (home / "meshclaw.yaml").read_text()
    (home / "meshclaw.yaml").write_text("users: [\n")
    p = cli("run", "scripted-assistant", "again")
    assert p.returncode == 2 and "not valid YAML" in p.stderr and "Traceback" not in p.stderr
    (home / "meshclaw.yaml").write_text(good)  # who may read the runs is in the configuration
    listing = cli("runs", "--json", check=True)
    assert listing.stdout.count('"status": "succeeded"') == 1


@pytest.mark.slow
def test_unreachable_provider(home, cli):
    write_config(home, UNREACHABLE)
    p = cli("run", "asker", "what time is it", "--quiet")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    assert "connection" in p.stderr.lower()


@pytest.mark.slow
def test_bundled_model_not_installed(home, cli):
    write_config(home, Org().user("alice").model("local", "bundled").agent("a", instructions="x").local_user("alice"))
    p = cli("run", "a", "hello", "--quiet")
    assert p.returncode == 1
    assert "meshclaw model install" in p.stderr and "Traceback" not in p.stderr


def test_missing_runs_and_config(home, cli):
    p = cli("runs", "show", "nope")
    assert p.returncode == 2 and "no such file (create one with `meshclaw init`)" in p.stderr
    cli("init", check=True)
    p = cli("runs", "show", "nope")
    assert p.returncode == 2 and p.stderr.strip() == "meshclaw: no run 'nope' (see `meshclaw runs`)"
    (home / "meshclaw.yaml").unlink()
    p = cli("config", "check")
    assert p.returncode == 2 and "no such file" in p.stderr


@pytest.mark.slow
def test_an_unmapped_login_is_told_how_to_map_it(home, cli):
    from tests.support.local_user import LOGIN

    write_config(home, UNMAPPED)
    p = cli("approve", "0123abcd")
    assert p.returncode == 3
    assert p.stderr.strip() == (f"meshclaw: login {LOGIN!r} is not mapped to a user: add "
                                f"`local_users: {{{LOGIN}: USER_ID}}` to the configuration")
    p = cli("approve", "0123abcd", "--by", "alice")  # nobody names whom they act as
    assert p.returncode == 2 and "No such option: --by" in p.stderr
