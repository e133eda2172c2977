"""The management chart as the store saw it: a plain edit of ``manager:`` (no ``manager_since``) gives the
new manager only the days from the edit on, the old one keeps the days before, ``config check`` says so,
and ``meshclaw usage reads`` shows each reader the days they actually saw — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from meshclaw.domain.config_file import parse_config
from meshclaw.domain.errors import NotAuthorized
from meshclaw.operations import usage as ops
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.store.facade import Store
from tests.builders import Org
from tests.cli_support import in_process

TODAY = datetime.now(timezone.utc).date()
DAYS = 10  # erin used a model on each of the last 10 days, 100 input + 10 output tokens a day


def org(erin_manager: str = "mia", **erin: object) -> Org:
    return (Org().user("mia", roles=["manager"]).user("nora", roles=["manager"]).user("frank", roles=["admin"])
            .user("erin", manager=erin_manager, **erin).model("local", "bundled"))


def seed(store: Store, user: str = "erin") -> None:
    for d in range(DAYS):
        at = datetime.combine(TODAY - timedelta(days=d), time(12), tzinfo=timezone.utc)
        store.usage.record(f"{user}-{d}", run_id=f"run-{user}-{d}", agent="erin-agent", user_id=user, model="local",
                           input_tokens=100, output_tokens=10, at=at)


def ctx_of(home, store: Store, o: Org) -> Context:
    return Context(parse_config(o.yaml(), home / "meshclaw.yaml"), store, home)


def days_seen(ctx: Context, reader: str, **period: object) -> set[str]:
    report = ops.person_usage(ctx, Actor.of(ctx.config, reader), "erin", by="day", **period)
    return {k for k, f in report.rows if f.sums.requests}


def ago(*days: int) -> set[str]:
    return {(TODAY - timedelta(days=d)).isoformat() for d in days}


def _plain_change_on(home, store: Store) -> None:
    """mia reads erin under the old chart, then the configuration says ``manager: nora`` (nothing else)."""
    before = ctx_of(home, store, org("mia"))
    assert days_seen(before, "mia") == ago(*range(DAYS))  # mia's first read: the store's first observation
    after = ctx_of(home, store, org("nora"))
    # nora sees erin only from the day the store first saw her as erin's manager: today.
    assert days_seen(after, "nora", since=TODAY - timedelta(days=60)) == ago(0)
    report = ops.person_usage(after, Actor.of(after.config, "nora"), "erin", since=TODAY - timedelta(days=60))
    assert report.total.sums.requests == 1 and "1 of 61 days" in " ".join(report.notes)
    # mia keeps the days before; she sees nothing of erin from today on.
    assert days_seen(after, "mia") == ago(*range(1, DAYS))
    with pytest.raises(NotAuthorized):
        ops.person_usage(after, Actor.of(after.config, "mia"), "erin", since=TODAY)


def test_a_plain_manager_change_shows_the_new_manager_nothing_from_before_it(home):
    store = Store(home)
    seed(store)
    _plain_change_on(home, store)
    rows = store.managers.history()["erin"]
    assert [r.manager for r in rows] == ["mia", "nora"]  # recorded once each, however often it was read


def test_the_day_the_store_first_saw_the_new_manager_is_the_day_of_the_change(home):
    store = Store(home)
    seed(store)
    first = ctx_of(home, store, org("mia"))
    store.managers.observe({"erin": "mia", "mia": None, "nora": None, "frank": None},
                           at=datetime.now(timezone.utc) - timedelta(days=40))
    store.managers.observe({"erin": "nora"}, at=datetime.now(timezone.utc) - timedelta(days=3))
    after = ctx_of(home, store, org("nora"))
    assert days_seen(after, "nora") == ago(0, 1, 2, 3)
    assert days_seen(after, "mia") == ago(*range(4, DAYS))
    # A team report follows the same days, and so do the organisation's team groups.
    team = ops.team_usage(after, Actor.of(after.config, "nora"))
    assert team.total.sums.requests == 4 and team.people == 1
    assert first.config.user("erin").manager == "mia"


def test_manager_since_in_the_configuration_wins_over_what_the_store_saw(home):
    store = Store(home)
    seed(store)
    days_seen(ctx_of(home, store, org("mia")), "mia")  # the store sees mia today
    since = TODAY - timedelta(days=6)
    explicit = ctx_of(home, store, org("nora", manager_since=since.isoformat(),
                                       manager_history=[{"manager": "mia", "valid_from": "2020-01-01"}]))
    assert days_seen(explicit, "nora") == ago(*range(7))
    assert days_seen(explicit, "mia") == ago(*range(7, DAYS))


def test_a_user_the_store_has_not_seen_is_taken_as_the_configuration_states_today(home):
    store = Store(home)
    seed(store)
    ctx = ctx_of(home, store, org("nora"))
    assert days_seen(ctx, "nora") == ago(*range(DAYS))  # the first observation starts erin's history
    assert [r.manager for r in store.managers.history()["erin"]] == ["nora"]


def _cli(home, user: str, o: Org, *args: str, columns: int = 80):
    o.local_user(user).write(home)
    return in_process(args, {"COLUMNS": str(columns)})


def test_config_check_warns_of_a_manager_change_written_without_manager_since(home):
    store = Store(home)
    seed(store)
    assert "manager changed" not in _cli(home, "frank", org("mia"), "config", "check").stdout
    draft = org("nora").local_user("frank").write(home, "draft.yaml")
    checked = in_process(("config", "check", "--path", str(draft)), {})
    assert checked.returncode == 0 and "erin's manager changed from mia to nora" in checked.stdout
    assert [r.manager for r in store.managers.history()["erin"]] == ["mia"]  # a draft records nothing
    p = _cli(home, "frank", org("nora"), "config", "check")
    assert p.returncode == 0, p.stderr
    warning = (f"erin's manager changed from mia to nora (first seen {TODAY.isoformat()}); nora sees erin's "
               "figures from that day; add manager_since to say otherwise")
    assert warning in " ".join(p.stdout.split()), p.stdout
    assert [r.manager for r in store.managers.history()["erin"]] == ["mia", "nora"]
    # Saying when the change happened ends the warning.
    told = org("nora", manager_since=(TODAY - timedelta(days=2)).isoformat(),
               manager_history=[{"manager": "mia", "valid_from": "2020-01-01"}])
    assert "manager changed" not in _cli(home, "frank", told, "config", "check").stdout
    # nora, through the command line, sees only today's figures of erin under the plain edit.
    seen = _cli(home, "nora", org("nora"), "usage", "--user", "erin", "--since", "30d", "--json")
    assert seen.returncode == 0 and '"requests": 1,' in seen.stdout


def test_usage_reads_shows_the_days_each_reader_saw(home, monkeypatch):
    store = Store(home)
    seed(store)
    store.managers.observe({"erin": "mia"}, at=datetime.now(timezone.utc) - timedelta(days=90))
    store.managers.observe({"erin": "nora"}, at=datetime.now(timezone.utc) - timedelta(days=15))
    ctx = ctx_of(home, store, org("nora"))
    since = TODAY - timedelta(days=60)
    ops.person_usage(ctx, Actor.of(ctx.config, "nora"), "erin", since=since)
    ops.team_usage(ctx, Actor.of(ctx.config, "mia"), since=since)
    with pytest.raises(NotAuthorized):
        ops.person_usage(ctx, Actor.of(ctx.config, "frank"), "erin", since=since)
    change = TODAY - timedelta(days=15)
    refused, team, person = ops.usage_reads(ctx, Actor.of(ctx.config, "erin"))
    assert person.data["seen"] == [[change.isoformat(), TODAY.isoformat()]]
    assert team.data["seen"] == [[since.isoformat(), (change - timedelta(days=1)).isoformat()]]
    assert refused.data["seen"] == [] and refused.verdict == "refused"
    out = " ".join(_cli(home, "erin", org("nora"), "usage", "reads").stdout.split())
    assert f"nora read your figures (person): {change} to {TODAY} (16 of 61 days asked for)" in out, out
    assert f"mia read your figures (team): {since} to {change - timedelta(days=1)} (45 of 61 days asked for)" in out
    assert f"refused: frank tried to read your figures (person, {since} to {TODAY})" in out
    # In a narrow terminal the verdict stays with what it is about, and wrapped text stays under its text.
    from meshclaw.surfaces.cli import printer

    monkeypatch.setattr(printer.console, "_width", 40)  # the console reads COLUMNS once, when it is made
    narrow = _cli(home, "erin", org("nora"), "usage", "reads", columns=40).stdout.splitlines()
    assert max(len(line) for line in narrow) <= 40 and len(narrow) > 3
    first = next(line for line in narrow if "frank" in line)
    assert first.split()[2:4] == ["refused:", "frank"], narrow
    assert all(line.startswith(" " * 18) or line[:4].isdigit() for line in narrow), narrow


@pytest.mark.postgres
def test_a_plain_manager_change_on_postgres(home, pg_url):
    store = Store(home, pg_url)
    try:
        seed(store)
        _plain_change_on(home, store)
        assert [r.manager for r in store.managers.history()["erin"]] == ["mia", "nora"]
        # Observing the same chart again adds nothing.
        store.managers.observe({"erin": "nora"})
        assert len(store.managers.history()["erin"]) == 2
    finally:
        store.db.engine.dispose()


def test_two_processes_recording_the_same_change_store_it_once(home, monkeypatch):
    from meshclaw.store.org_observations import ManagerObservations

    store = Store(home)
    store.managers.observe({"erin": "mia"})
    real = ManagerObservations._history
    reads = []

    def history(s):  # type: ignore[no-untyped-def]
        reads.append(1)
        return {} if len(reads) == 1 else real(s)  # the first read came before the other process's commit

    monkeypatch.setattr(ManagerObservations, "_history", staticmethod(history))
    after = store.managers.observe({"erin": "mia"})
    assert [r.manager for r in after["erin"]] == ["mia"] and len(reads) == 2  # row 0 was taken: it read again
    monkeypatch.undo()
    assert [r.manager for r in store.managers.history()["erin"]] == ["mia"]
