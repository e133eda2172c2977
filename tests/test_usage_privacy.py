"""Who sees whose usage: own figures, the management chain over time, k-anonymous organisation figures
without differencing, and every read of another person's figures audited and shown to them — through
the Python API (operations) and the command line."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from meshclaw.domain.config_file import parse_config
from meshclaw.domain.errors import NotAuthorized, UsageError
from meshclaw.operations import usage as ops
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.store.facade import Store
from tests.builders import Org
from tests.cli_support import in_process

TODAY = datetime.now(timezone.utc).date()
SWITCH = TODAY - timedelta(days=5)  # eve moves from carol's team to mia's on this day


def org(k: int = 5) -> Org:
    o = (Org().user("carol", roles=["manager"]).user("alice", manager="carol").user("bob", manager="carol")
         .user("dave", manager="alice")
         .user("eve", manager="mia", manager_since=SWITCH.isoformat(),
               manager_history=[{"manager": "carol", "valid_from": (TODAY - timedelta(days=60)).isoformat()}])
         .user("frank", roles=["admin"]).user("mia", roles=["manager"]))
    for i in range(6):
        o = o.user(f"m{i}", manager="mia")
    return o.model("local", "bundled").set("usage", {"min_group_size": k})


def seed(store: Store, users: list[str], days: int = 10, tokens: int = 100) -> None:
    for u in users:
        for d in range(days):
            at = datetime.combine(TODAY - timedelta(days=d), time(12), tzinfo=timezone.utc)
            store.usage.record(f"{u}-{d}", run_id=f"run-{u}-{d}", agent=f"{u}-agent", user_id=u, model="local",
                               input_tokens=tokens, output_tokens=tokens // 10, at=at)


@pytest.fixture
def world(home):
    o = org()
    config = parse_config(o.yaml(), home / "meshclaw.yaml")
    store = Store(home)
    seed(store, [u.id for u in config.users])
    return Context(config, store, home)


def me(ctx: Context, user: str) -> Actor:
    return Actor.of(ctx.config, user)


def test_everyone_sees_their_own_figures_and_a_peer_none(world):
    mine = ops.my_usage(world, me(world, "alice"), by="agent")
    assert mine.total.sums.requests == 10 and mine.total.sums.tokens == 1100
    assert [k for k, _ in mine.rows] == ["alice-agent"]
    with pytest.raises(NotAuthorized):
        ops.person_usage(world, me(world, "bob"), "alice")
    # The attempt is on the record, and shown to alice.
    [attempt] = ops.usage_reads(world, me(world, "alice"))
    assert attempt.data["actor"] == "bob" and attempt.verdict == "refused"


def test_a_manager_sees_direct_and_indirect_reports_and_each_read_is_shown_to_that_person(world):
    carol = me(world, "carol")
    dave = ops.person_usage(world, carol, "dave")  # dave reports to alice, who reports to carol
    assert dave.total.sums.tokens == 1100
    team = ops.team_usage(world, carol, by="day")
    # alice, bob and dave for 10 days, eve for the 4 days before she moved to mia (days 9..6 ago)
    assert team.total.sums.requests == 10 * 3 + 4
    assert team.people == 4
    with pytest.raises(UsageError):
        ops.team_usage(world, carol, by="user")  # no per-person breakdown, so no ranking
    for person in ("alice", "bob", "dave", "eve"):
        reads = ops.usage_reads(world, me(world, person))
        assert reads and all(r.data["actor"] == "carol" for r in reads), person
    assert ops.usage_reads(world, me(world, "m0")) == []


def test_after_a_change_of_manager_each_manager_sees_only_their_own_days(world):
    old = ops.person_usage(world, me(world, "carol"), "eve", by="day")
    new = ops.person_usage(world, me(world, "mia"), "eve", by="day")
    assert {k for k, _ in old.rows} == {(TODAY - timedelta(days=d)).isoformat() for d in range(6, 10)}
    assert {k for k, _ in new.rows} == {(TODAY - timedelta(days=d)).isoformat() for d in range(6)}
    assert any("management chain" in n for n in old.notes)
    # Before carol's period began nobody could read eve's figures.
    with pytest.raises(NotAuthorized):
        ops.person_usage(world, me(world, "carol"), "eve", since=TODAY - timedelta(days=90),
                         until=TODAY - timedelta(days=61))


def test_an_admin_sees_groups_of_at_least_k_people_and_never_one_person(world):
    frank = me(world, "frank")
    with pytest.raises(NotAuthorized):
        ops.person_usage(world, frank, "alice")  # an admin is not alice's manager
    everyone = ops.org_usage(world, frank, by="day")
    assert everyone.people == 13 and everyone.total.sums.requests == 13 * 10
    mias = ops.org_usage(world, frank, group="team:mia")  # m0..m5, plus eve for her last 6 days
    assert mias.people == 7
    # carol's team has at most 4 people: fewer than k, withheld every day
    carols = ops.org_usage(world, frank, group="team:carol")
    assert carols.total.sums.requests == 0 and carols.people == 0 and carols.notes
    with pytest.raises(UsageError):
        ops.org_usage(world, frank, by="agent")
    with pytest.raises(NotAuthorized):
        ops.org_usage(world, me(world, "carol"))


def test_two_aggregates_cannot_be_subtracted_to_isolate_fewer_than_k_people(home):
    # Nine people: eight under mia, one (solo) outside. organisation − team:mia would be solo alone.
    o = (Org().user("frank", roles=["admin"], manager="mia").user("mia"))
    for i in range(7):
        o = o.user(f"m{i}", manager="mia")
    o = o.user("solo").model("local", "bundled")
    config = parse_config(o.yaml(), home / "meshclaw.yaml")
    store = Store(home)
    seed(store, [u.id for u in config.users if u.id != "frank"] + ["frank"], days=3)
    ctx = Context(config, store, home)
    frank = Actor.of(config, "frank")
    whole = ops.org_usage(ctx, frank)
    team = ops.org_usage(ctx, frank, group="team:mia")
    assert whole.people == 10 and whole.total.sums.requests == 30
    # team:mia differs from the organisation by 2 people (mia and solo) < k: withheld, so no difference
    assert team.total.sums.requests == 0 and "withheld" in " ".join(team.notes)


def test_k_is_never_below_three(home):
    from meshclaw.domain.config_file import ConfigError

    with pytest.raises(ConfigError, match="min_group_size: Input should be greater than or equal to 3"):
        parse_config(org(k=2).yaml(), home / "meshclaw.yaml")


def test_an_empty_period_is_a_clear_result_and_a_reversed_one_a_clear_error(world):
    empty = ops.my_usage(world, me(world, "alice"), since=date(2020, 1, 1), until=date(2020, 1, 31))
    assert empty.total.sums.requests == 0 and "no model requests in this period" in empty.notes
    with pytest.raises(UsageError, match="empty"):
        ops.my_usage(world, me(world, "alice"), since=TODAY, until=TODAY - timedelta(days=3))


def _cli(home, user: str, *args: str):
    org().local_user(user).write(home)
    return in_process(("usage", *args), {})


def test_the_command_line_follows_the_same_rules(world, home):
    mine = _cli(home, "alice", "--no-chart")
    assert mine.returncode == 0 and "Your usage" in mine.stdout and "1,100" in mine.stdout
    peer = _cli(home, "bob", "--user", "alice")
    assert peer.returncode != 0 and "may not read alice's usage" in peer.stderr
    boss = _cli(home, "carol", "--user", "alice", "--json")
    assert boss.returncode == 0 and '"subject": "alice"' in boss.stdout
    reads = _cli(home, "alice", "reads")
    assert "carol read your figures" in reads.stdout and "refused: bob tried to read your figures" in reads.stdout
    admin = _cli(home, "frank", "--org", "--by", "day")
    assert admin.returncode == 0 and "13 people" in admin.stdout and "tokens by day" in admin.stdout
    refused = _cli(home, "alice", "--org")
    assert refused.returncode != 0 and "only an admin or auditor" in refused.stderr


def test_config_check_names_a_loop_and_an_unknown_earlier_manager(home, cli):
    bad = (Org().user("alice", manager="bob").user("bob", manager="alice")
           .user("dave", manager="alice", manager_since="2026-10-01",
                 manager_history=[{"manager": "zed", "valid_from": "2026-01-01"}])
           .user("erin", manager="alice", manager_history=[{"manager": "bob", "valid_from": "2026-01-01"}])
           .model("local", "bundled"))
    bad.write(home)
    p = cli("config", "check")
    assert p.returncode != 0
    assert "the management chain loops: alice → bob → alice" in p.stderr
    assert "'zed' is not a known user (earlier manager of dave)" in p.stderr
    assert "give manager_since" in p.stderr
