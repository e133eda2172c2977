"""`meshclaw usage` and `meshclaw metrics` on the command line: bad input is one clear line (dates at the
edges of the calendar, a port in use, an unknown group, options that do not go together), and the
report reads as a person would write it."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.domain.config_file import parse_config
from meshclaw.domain.errors import UsageError
from meshclaw.operations.actor import Actor
from meshclaw.store.facade import Store
from tests.builders import Org
from tests.cli_support import in_process

ORG = (Org().user("carol", roles=["manager"]).user("alice", manager="carol").user("frank", roles=["admin"])
       .model("local", "bundled"))


def _cli(home, user: str, *args: str):
    ORG.local_user(user).write(home)
    return in_process(args, {})


@pytest.mark.parametrize("args, said", [
    (("usage", "--until", "9999-12-31"), "--until 9999-12-31 is the last day a date can name"),
    (("usage", "--since", "9999-12-31", "--until", "9999-12-31"), "--until 9999-12-31 is the last day"),
    (("usage", "--until", "0001-01-01"), "the 30 days up to --until 0001-01-01 reach before the year 1"),
    (("usage", "--since", "99999999999d"), "'99999999999d' reaches before the year 1"),
    (("usage", "reads", "--since", "99999999999d"), "'99999999999d' reaches before the year 1"),
    (("usage", "--group", "team:carol"), "--group goes with --org"),
    (("usage", "--team", "--org"), "choose one of --team, --user and --org"),
    (("usage", "--since", "2999-01-01"), "--since 2999-01-01 is in the future (today is"),
    (("usage", "--since", "2999-01-01", "--until", "2998-01-01"), "--since 2999-01-01 is after --until 2998-01-01"),
])
def test_bad_input_is_one_clear_line(home, args, said):
    p = _cli(home, "alice", *args)
    assert p.returncode != 0 and said in p.stderr, p.stderr
    assert "unexpected" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_the_first_days_of_the_calendar_and_today_alone_are_periods_like_any_other(home):
    first = _cli(home, "alice", "usage", "--since", "0001-01-01", "--until", "0001-01-10", "--by", "trigger")
    assert first.returncode == 0 and "0001-01-01 to 0001-01-10" in first.stdout, first.stderr
    last = _cli(home, "alice", "usage", "--since", "9999-12-30", "--until", "9999-12-30")
    assert last.returncode == 0, last.stderr
    today = datetime.now(timezone.utc).date().isoformat()
    for span in ("0d", "1d"):  # 0d is today, as 1d is: never "tomorrow is after today"
        p = _cli(home, "alice", "usage", "--since", span, "--json")
        assert p.returncode == 0, p.stderr
        assert (json.loads(p.stdout)["since"], json.loads(p.stdout)["until"]) == (today, today)


def test_the_report_reads_as_a_person_would_write_it(home):
    ORG.write(home)
    store = Store(home)
    store.runs.create("run-1", "mailer", "alice", "answer mail", {})
    store.usage.record("u1", run_id="run-1", agent="mailer", user_id="alice", model="local", input_tokens=90,
                       output_tokens=10)
    for key, tool, args in (("n1", "notes.add", {"text": "x"}),
                            ("d1", "email.draft", {"to": ["bob@example.com"], "subject": "Hi", "body": "Hello"})):
        store.audit.append(key, "call", run_id="run-1", agent="mailer", user_id="alice", tool=tool, verdict="done",
                           data={"args": args, "call_id": key})
    mine = _cli(home, "alice", "usage")
    text = " ".join(mine.stdout.split())
    assert mine.returncode == 0 and text.startswith("Your usage, "), mine.stdout
    assert "in 1 request " in text
    # accepted kinds in the accepted part, the others apart
    assert "outcomes 1 accepted (note_saved 1); not accepted: draft_unsent 1" in text
    team = _cli(home, "carol", "usage", "--team")
    assert team.returncode == 0 and "Usage of team of carol" in team.stdout and ", 1 person" in team.stdout


def test_an_unknown_group_is_refused_by_usage_and_metrics_alike(home):
    refused = _cli(home, "frank", "usage", "--org", "--group", "bogus")
    assert refused.returncode != 0 and "no group 'bogus' (groups: organisation, team:carol)" in refused.stderr
    from meshclaw.operations.context import Context
    from meshclaw.surfaces.metrics import serve

    config = parse_config(ORG.yaml(), home / "meshclaw.yaml")
    ctx = Context(config, Store(home), home)
    with pytest.raises(UsageError, match=r"no group 'bogus' \(groups: organisation, team:carol\)"):
        serve(ctx, Actor.of(config, "frank"), port=0, groups=["organisation", "bogus"])


def test_metrics_on_a_port_in_use_is_one_clear_line(home):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        p = _cli(home, "frank", "metrics", "--port", str(port))
    assert p.returncode != 0 and f"cannot listen on 127.0.0.1:{port}: Address already in use" in p.stderr, p.stderr
    assert "unexpected" not in p.stderr


def test_metrics_on_port_0_listens_on_a_free_port_and_says_which(home):
    import os
    import re
    import subprocess
    import urllib.request

    from tests.cli_support import MESHCLAW, ROOT

    ORG.local_user("frank").write(home)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), MESHCLAW_HOME=str(home))
    proc = subprocess.Popen([*MESHCLAW, "metrics", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert found and int(found.group(1)) > 0, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(found.group(0), timeout=30) as reply:
            assert reply.status == 200 and "meshclaw_usage" in reply.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_team_that_ended_earlier_in_the_month_is_scraped_for_30d_only(home):
    """metrics exports 1d and 30d windows: a team with nobody in it today has a 30d series and no 1d one
    (not an error that fails the whole scrape)."""
    import threading
    import urllib.request

    from meshclaw.operations.context import Context
    from meshclaw.surfaces.metrics import serve

    today = datetime.now(timezone.utc).date()
    moved = (Org().user("carol", roles=["manager"]).user("mia", roles=["manager"]).user("frank", roles=["admin"])
             .user("alice", manager="mia", manager_since=(today - timedelta(days=5)).isoformat(),
                   manager_history=[{"manager": "carol", "valid_from": (today - timedelta(days=60)).isoformat()}])
             .model("local", "bundled"))
    config = parse_config(moved.yaml(), home / "meshclaw.yaml")
    server = serve(Context(config, Store(home), home), Actor.of(config, "frank"), port=0, groups=["team:carol"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'meshclaw_usage_tokens{group="team:carol",window="30d"} 0.0' in body
    assert 'window="1d"' not in body
