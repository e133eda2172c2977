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


def seed(store: Store, users: list[str], days: int = 10, tokens: int = 100, first: int = 0) -> None:
    """``days`` days of one request a day by each of ``users``, from ``first`` days ago (0: today) back."""
    for u in users:
        for d in range(first, first + days):
            at = datetime.combine(TODAY - timedelta(days=d), time(12), tzinfo=timezone.utc)
            store.usage.record(f"{u}-{d}", run_id=f"run-{u}-{d}", agent=f"{u}-agent", user_id=u, model="local",
                               input_tokens=tokens, output_tokens=tokens // 10, at=at)


def _world(home, first: int) -> Context:
    config = parse_config(org().yaml(), home / "meshclaw.yaml")
    store = Store(home)
    seed(store, [u.id for u in config.users], first=first)
    return Context(config, store, home)


@pytest.fixture
def world(home):
    return _world(home, 0)  # ten days up to today


@pytest.fixture
def closed_world(home):
    return _world(home, 1)  # ten closed days, up to yesterday: organisation figures count closed days only


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


def test_an_admin_sees_groups_of_at_least_k_people_and_never_one_person(closed_world):
    world = closed_world
    frank = me(world, "frank")
    with pytest.raises(NotAuthorized):
        ops.person_usage(world, frank, "alice")  # an admin is not alice's manager
    everyone = ops.org_usage(world, frank, by="day")
    assert everyone.people == 13 and everyone.total.sums.requests == 13 * 10
    mias = ops.org_usage(world, frank, group="team:mia")  # m0..m5, plus eve for her last 5 (closed) days
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
    seed(store, [u.id for u in config.users if u.id != "frank"] + ["frank"], days=3, first=1)
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


def _chain(home, k: int = 3) -> Context:
    """The chart of the differencing report: m manages ma and mb, who manage a1..a3 and b1..b3; frank is
    an admin outside it. Yesterday ma used 4,242 tokens, each a 1,100 and each b 2,100; mb nothing."""
    o = Org().user("frank", roles=["admin"]).user("m").user("ma", manager="m").user("mb", manager="m")
    for i in range(1, 4):
        o = o.user(f"a{i}", manager="ma").user(f"b{i}", manager="mb")
    config = parse_config(o.model("local", "bundled").set("usage", {"min_group_size": k}).yaml(),
                          home / "meshclaw.yaml")
    store = Store(home)
    at = datetime.combine(TODAY - timedelta(days=1), time(12), tzinfo=timezone.utc)
    for user, tokens in (("ma", 4242), *((f"a{i}", 1100) for i in range(1, 4)), *((f"b{i}", 2100) for i in range(1, 4))):
        store.usage.record(f"{user}-1", run_id=f"run-{user}", agent=f"{user}-agent", user_id=user, model="local",
                           input_tokens=tokens, output_tokens=0, at=at)
    return Context(config, store, home)


def test_three_groups_cannot_be_combined_to_isolate_one_person(home):
    """team:m − team:ma − team:mb was ma's own 4,242 tokens when all three were released (k = 3)."""
    from itertools import product

    ctx = _chain(home)
    frank = me(ctx, "frank")
    groups = ("organisation", "team:m", "team:ma", "team:mb")
    got = {g: ops.org_usage(ctx, frank, group=g) for g in groups}
    tokens = {g: r.total.sums.tokens for g, r in got.items()}
    m, ma, mb = tokens["team:m"], tokens["team:ma"], tokens["team:mb"]
    assert 0 in (m, ma, mb)  # a child or the parent is withheld: the difference cannot be taken
    assert m - ma - mb != 4242
    # Smallest first (ties by name): team:ma is withheld, its people fall into team:m's atom (ma, a1..a3).
    assert tokens == {"organisation": 13842, "team:m": 13842, "team:ma": 0, "team:mb": 6300}
    assert any("withheld" in n for n in got["team:ma"].notes)
    # No sum or difference of the figures released shows one person's figure (nor two people's).
    singles = {4242, 1100, 2100}
    pairs = {a + b for a in singles for b in singles}
    for signs in product((-1, 0, 1), repeat=len(groups)):
        value = sum(s * tokens[g] for s, g in zip(signs, groups))
        assert abs(value) not in singles | pairs, (signs, value)


def _random_day(rng) -> tuple[dict[str, frozenset[str]], set[str]]:
    """A random tree-shaped chart's groups (organisation, team:M) and who used a model that day."""
    users = [f"u{i}" for i in range(rng.randint(3, 40))]
    boss = {u: (rng.choice(users[:i]) if i and rng.random() < 0.9 else None) for i, u in enumerate(users)}
    below: dict[str, set[str]] = {}
    for u in reversed(users):  # a user's reports come after them: their teams are complete here
        if boss[u] is not None:
            below.setdefault(boss[u], set()).update({u} | below.get(u, set()))
    groups = {"organisation": frozenset(users), **{f"team:{m}": frozenset(r) for m, r in below.items()}}
    return groups, {u for u in users if rng.random() < rng.choice((0.3, 0.7, 0.95))}


def test_every_atom_of_a_days_released_cells_has_none_or_at_least_k_people():
    import random

    from meshclaw.operations.usage_privacy import release_day

    rng = random.Random(20261123)
    withheld_some = 0
    for _ in range(400):
        groups, people = _random_day(rng)
        k = rng.choice((3, 4, 5))
        cells = release_day(groups, people, k)
        sets = set(cells.values())
        for g, c in cells.items():
            assert c == groups[g] & people and len(c) >= k  # rule 2
            inside = [o for o in sets if o < c]
            assert all(o <= c or not o & c for o in sets if len(o) <= len(c))  # nested or disjoint
            atom = c - frozenset().union(*inside)
            assert len(atom) == 0 or len(atom) >= k, (g, sorted(atom))
            assert all(len(c ^ o) == 0 or len(c ^ o) >= k for o in sets)  # the old pairwise rule still holds
        withheld_some += any(len(groups[g] & people) >= k and g not in cells for g in groups)
    assert withheld_some > 20  # the check did have cells to withhold
    # Two teams that cross (only a loop in the chart could make them, and loading refuses one): the later
    # of the two, by size then name, is withheld (deny by default).
    crossing = release_day({"organisation": frozenset("abcdefgh"), "team:x": frozenset("abcd"),
                            "team:y": frozenset("cdef")}, set("abcdefgh"), 3)
    assert set(crossing) == {"organisation", "team:x"}


def test_today_is_never_counted_in_an_organisation_figure(closed_world):
    """Reading a figure before and after one more request today would show that request: today's cell is
    never released, by the Python API, the command line or the MCP tool (all call org_usage)."""
    world, frank = closed_world, me(closed_world, "frank")
    reads = {"default": {}, "to today": {"since": TODAY - timedelta(days=29), "until": TODAY},
             "7d": {"since": ops.day_arg("7d")}}
    before = {name: ops.org_usage(world, frank, by="day", **kw).as_dict() for name, kw in reads.items()}
    seed(world.store, [u.id for u in world.config.users], days=1, tokens=5000)  # 14 people today: enough for k
    world.store.usage.record("one-more", run_id="run-one-more", agent="m0-agent", user_id="m0", model="local",
                             input_tokens=1001, output_tokens=0)
    after = {name: ops.org_usage(world, frank, by="day", **kw).as_dict() for name, kw in reads.items()}
    assert after == before
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert before["default"]["total"]["requests"] == 13 * 10 and before["default"]["until"] == yesterday
    assert before["to today"]["until"] == yesterday and TODAY.isoformat() not in str(before["to today"]["rows"])
    assert any(n.startswith("today is still open: organisation figures cover closed days only")
               for n in before["to today"]["notes"])
    only_today = ops.org_usage(world, frank, since=TODAY, until=TODAY, by="day")
    assert only_today.total.sums.requests == 0 and only_today.rows == [] and only_today.people == 0
    assert only_today.notes == ["today is still open: organisation figures cover closed days only"]
    assert (only_today.start, only_today.end) == (TODAY, TODAY + timedelta(days=1))


def test_the_command_line_gives_no_organisation_figure_for_today(world, home):
    # world has thirteen people using models today: the command line still shows nothing for today
    p = _cli(home, "frank", "--org", "--since", "0d", "--json")
    assert p.returncode == 0, p.stderr
    import json

    report = json.loads(p.stdout)
    assert report["total"]["requests"] == 0 and report["people"] == 0 and report["rows"] == []
    assert report["notes"] == ["today is still open: organisation figures cover closed days only"]
    text = _cli(home, "frank", "--org", "--since", "0d")
    assert text.returncode == 0 and "today is still open: organisation figures cover closed days only" in text.stdout


def test_the_mcp_tool_states_the_configured_k(home):
    import asyncio
    from types import SimpleNamespace

    from meshclaw.surfaces.mcp_server.server import build_server
    from meshclaw.surfaces.mcp_server.service import Service

    for k in (3, 8):
        config = parse_config(org(k=k).yaml(), home / "meshclaw.yaml")
        mcp = build_server(Service(SimpleNamespace(config=config)), port=1)
        [tool] = [t for t in asyncio.run(mcp.list_tools()) if t.name == "usage"]
        assert f"aggregates of groups of {k} or more people" in tool.description
        assert "5+" not in tool.description


def test_organisation_figures_count_outcomes_only_once_they_have_settled(closed_world):
    """A closed day's outcomes can still change for a week (a draft sent, a message moved back), so an
    organisation figure counts outcomes only before that: reading it twice cannot show one person's action."""
    import sqlalchemy as sa

    from meshclaw.store.tables import AuditRecord

    world, frank = closed_world, me(closed_world, "frank")
    users = [u.id for u in world.config.users]
    for i, u in enumerate(users):
        for age in (9, 2):
            key = f"approval-{u}-{age}"
            world.store.audit.append(key, "approval", run_id=f"run-{u}-{age}", agent=f"{u}-agent", user_id=u,
                                     tool="email.send", verdict="approved", data={"approval": key})
            at = datetime.combine(TODAY - timedelta(days=age), time(13), tzinfo=timezone.utc)
            with world.store.db.engine.begin() as conn:
                t = AuditRecord.__table__
                conn.execute(sa.update(t).where(t.c.event_key == key).values(at=at))
    report = ops.org_usage(world, frank, by="day")
    by_day = {key: f.outcomes.get("approval_granted", 0) for key, f in report.rows}
    assert by_day[(TODAY - timedelta(days=9)).isoformat()] == 13  # everyone with usage that day (not frank)
    assert by_day.get((TODAY - timedelta(days=2)).isoformat(), 0) == 0
    assert report.total.outcomes == {"approval_granted": 13}
    assert any(n.startswith("outcomes of the last 7 days are left out until they settle") for n in report.notes)


def test_runs_and_model_records_show_token_counts_only_to_the_person_and_their_managers(world):
    """An admin reads everyone's runs and audit records, but not per-person usage figures through them
    (that would be the per-person ranking usage refuses): the counts are withheld, not zero."""
    from meshclaw.operations import audit as audit_ops
    from meshclaw.operations.runs import list_runs, show_run

    s = world.store
    s.runs.create("run-alice-x", "alice-agent", "alice", "summarise my inbox", {})
    s.audit.append("run-alice-x:model:1", "model", run_id="run-alice-x", agent="alice-agent", user_id="alice",
                   data={"model": "local", "input_tokens": 1234, "output_tokens": 56, "tool_calls": []})
    s.usage.record("run-alice-x:model:1", run_id="run-alice-x", agent="alice-agent", user_id="alice", model="local",
                   input_tokens=1234, output_tokens=56)

    def run_usage(user: str):
        found = [r for r in list_runs(world, me(world, user)) if r.id == "run-alice-x"]
        return found[0].usage if found else "not listed"

    assert run_usage("frank") is None  # the admin sees the run, not its tokens
    assert run_usage("alice").input_tokens == 1234 and run_usage("carol").input_tokens == 1234
    detail = show_run(world, me(world, "frank"), "run-alice-x")
    assert detail.run.usage is None and detail.model_calls == []
    model = [e for e in detail.steps if e.kind == "model"]
    assert model and "input_tokens" not in model[0].data and model[0].data["usage"] == "withheld"
    shown = audit_ops.show(world, me(world, "frank"), kind="model")
    assert shown and all("input_tokens" not in e.data for e in shown)
    assert audit_ops.show(world, me(world, "carol"), kind="model")[0].data["input_tokens"] == 1234
