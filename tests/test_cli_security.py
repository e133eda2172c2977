"""The security commands as a person uses them: grants, kill switch, audit verify/show, rehearse."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.builders import Org, call, say
from tests.conftest import write_config
from tests.waiting import wait_for

CONFIG = (Org().organisation()
          .user("alice", email="alice@example.com", manager="bob", budget={"cost_per_month": 20})
          .user("bob", email="bob@example.com")
          .user("secops", name="Security Operations", roles=["admin"])
          .scripted("script", call("notes.add", text="call the supplier"), say("saved"))
          .agent("keeper", instructions="Keep notes.", model="script", autonomy="auto", budget={"tokens_per_day": 50000},
                 toolsets={"notes": [{"tool": "notes.add", "when": {"text": {"matches": "[^@]*"}}, "limit": {"per_day": 20}},
                                     "notes.list"]})
          .local_user("alice"))


def test_grants_show_in_plain_words(home, cli):
    write_config(home, CONFIG)
    out = cli("grants", "show", "keeper", check=True).stdout
    assert "keeper acts for alice and acts within its grants" in out
    assert "- notes.add, where text matches '[^@]*', at most 20 per day (changes the owner's workspace)" in out
    assert "- notes.list (reads)" in out
    assert "It may not use any other tool (deny by default)." in out
    assert "tokens per day: 50,000" in out and "its owner's: cost per month: $20.00" in out


@pytest.mark.slow
def test_kill_switch_is_durable_and_audited(home, cli):
    write_config(home, CONFIG)
    cli("promote", "keeper", check=True)
    stopped = cli("stop", "keeper", check=True)  # as alice, its owner
    assert "stopped keeper" in stopped.stdout
    again = cli("stop", "keeper", check=True)
    assert again.stdout.startswith("keeper was already stopped; cancelled 0 run(s)")
    p = cli("run", "keeper", "note it")
    assert p.returncode == 1 and "stopped (kill switch)" in p.stderr and "Traceback" not in p.stderr
    assert "STOPPED" in cli("grants", "show", "keeper", check=True).stdout
    cli("start", "keeper", check=True)
    assert cli("run", "keeper", "note it").returncode == 0
    refused = cli("stop", "--all")
    assert refused.returncode == 3
    assert refused.stderr.strip() == "meshclaw: alice may not stop every agent: only an admin may"
    assert cli("run", "keeper", "note it").returncode == 0  # the refused stop changed nothing
    write_config(home, CONFIG.local_user("secops"))
    cli("stop", "--all", check=True)
    assert cli("run", "keeper", "note it").returncode == 1
    started = cli("start", "keeper", check=True)
    assert "`meshclaw stop --all` is still in force" in started.stdout
    cli("start", "--all", check=True)
    log = cli("audit", "show", "--since", "1h", check=True).stdout  # an admin reads every record
    assert log.count("kill-switch") == 6 and "promotion" in log  # stop, stop, start, stop --all, start, start --all
    operations = json.loads(cli("audit", "show", "--kind", "operation", "--json", check=True).stdout)
    assert [(r["data"]["operation"], r["data"]["actor"], r["verdict"]) for r in operations
            if r["data"]["operation"] in ("stop", "start")] == [
        ("stop", "alice", "done"), ("stop", "alice", "done"), ("start", "alice", "done"), ("stop", "alice", "refused"),
        ("stop", "secops", "done"), ("start", "secops", "done"), ("start", "secops", "done")]


@pytest.mark.slow
def test_audit_verify_names_the_first_broken_record(home, cli):
    write_config(home, CONFIG)
    cli("promote", "keeper", check=True)
    cli("run", "keeper", "note it", check=True)
    ok = cli("audit", "verify", check=True)
    assert "audit log intact" in ok.stdout
    [decision] = json.loads(cli("audit", "show", "--kind", "decision", "--json", check=True).stdout)
    db = sqlite3.connect(home / "meshclaw.sqlite")
    db.execute("UPDATE audit SET reason = 'nothing to see' WHERE kind = 'decision'")
    db.commit()
    broken = cli("audit", "verify")
    assert broken.returncode == 1
    seq = decision["seq"]
    assert f"audit log is broken at record {seq}: record {seq} was edited after it was written" in broken.stderr
    shown = cli("audit", "show", "--agent", "keeper", "--json", check=True).stdout
    assert '"tool": "notes.add"' in shown


@pytest.mark.slow
def test_rehearse_prints_what_it_would_do(home, cli):
    write_config(home, CONFIG)
    cli("promote", "keeper", check=True)
    p = cli("rehearse", "keeper", "note it", check=True)
    assert 'would notes.add {"text": "call the supplier"}' in p.stdout
    listing = cli("runs", "--json", check=True).stdout
    assert '"rehearsal": true' in listing
    assert cli("audit", "show", "--json", check=True).stdout.count('"kind": "captured"') == 1


def test_bad_time_filter(home, cli):
    write_config(home, CONFIG)
    p = cli("audit", "show", "--since", "yesterday-ish")
    assert p.returncode == 2 and "not a time" in p.stderr


@pytest.mark.slow
def test_stop_ends_a_live_run_within_seconds(home, cli):
    import os
    import subprocess
    import time

    from tests.conftest import MESHCLAW, ROOT

    write_config(home, CONFIG.agent("keeper", autonomy="ask"))
    cli("promote", "keeper", check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
    live = subprocess.Popen([*MESHCLAW, "run", "keeper", "note it"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def asked() -> bool:
        assert live.poll() is None, "the run ended before asking"
        return '"tool": "notes.add"' in cli("approvals", "--json", check=True).stdout

    wait_for(asked, 60, 0.2, what="the approval request")
    stopped_at = time.monotonic()
    assert "cancelled 1 run(s)" in cli("stop", "keeper", check=True).stdout
    out, _ = live.communicate(timeout=30)
    took = time.monotonic() - stopped_at
    assert took < 10, f"the run took {took:.1f} s to stop"
    assert live.returncode == 1
    listing = cli("runs", "--json", check=True).stdout
    assert "\"status\": \"stopped\"" in listing and "kill switch" in listing, listing
    # Nothing resumes while the agent is stopped: a new worker does not pick the run up.
    assert "no interrupted runs" in cli("resume", check=True).stdout


def test_the_kill_switch_works_on_a_configuration_that_cannot_be_loaded(home, cli):
    path = write_config(home, CONFIG)
    cli("promote", "keeper", check=True)
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("manager: bob", "manager: nobody-by-this-name"), encoding="utf-8")
    assert cli("run", "keeper", "note it").returncode != 0  # the broken configuration stops everything else
    typo = cli("stop", "keper")
    assert typo.returncode != 0 and "unknown agent 'keper'" in typo.stderr and "keeper" in typo.stderr
    stopped = cli("stop", "keeper")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped keeper" in stopped.stdout
    assert "the configuration cannot be loaded" in stopped.stderr and "the owner of the data dir" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    refused = cli("start", "keeper")  # starting again waits for a valid configuration
    assert refused.returncode != 0 and "nobody-by-this-name" in refused.stderr and "Traceback" not in refused.stderr
    path.write_text(good, encoding="utf-8")
    p = cli("run", "keeper", "note it")
    assert p.returncode == 1 and "stopped (kill switch)" in p.stderr
    records = json.loads(cli("audit", "show", "--kind", "kill-switch", "--json", check=True).stdout)
    assert [(r["verdict"], r["data"]["by"].startswith("login:"), "could not be loaded" in r["data"]["configuration"])
            for r in records] == [("stopped", True, True)]
    assert cli("audit", "verify").returncode == 0
    cli("start", "keeper", check=True)
    assert cli("run", "keeper", "note it").returncode == 0


def test_audit_show_with_a_limit_shows_the_newest_records_oldest_first(home, cli):
    write_config(home, CONFIG)
    cli("run", "keeper", "note it", check=True)
    everything = json.loads(cli("audit", "show", "--json", check=True).stdout)
    assert len(everything) > 3
    newest = json.loads(cli("audit", "show", "--limit", "3", "--json", check=True).stdout)
    assert [r["seq"] for r in newest] == [r["seq"] for r in everything[-3:]]
    printed = cli("audit", "show", "--limit", "3", check=True).stdout
    assert printed.index(f"#{newest[0]['seq']} ") < printed.index(f"#{newest[2]['seq']} ")
    assert "the newest 3 matching records" in printed
