"""Usage reports: tokens and cost beside value (outcomes, minutes saved) and waste, by the management chain.

Who reads what (the rule lives here, for every surface — CLI, Python, the MCP server, a web API):

- anyone: their own figures (``my_usage``), with waste findings and suggestions;
- a manager: the figures of a direct or indirect report (``person_usage``) and of their whole team
  (``team_usage``), only for the days they were in that person's chain: the configuration's
  ``manager_since`` / ``manager_history`` where given, else the chart as the store saw it over time
  (``usage_org``; every function here that reads figures first records the configuration's chart,
  ``usage_chart.observe``), so a plain edit of ``manager:`` gives the new manager only the days from
  the edit on;
  waste findings about a report only once they are ``WASTE_PRIVATE_DAYS`` old (the employee sees them first);
- an admin or auditor: organisation and team aggregates only (``org_usage``), under the k rule of
  ``usage_privacy`` — never one person's figures unless they are also that person's manager;
- nobody else reads another person's figures, by any of these functions.

Every read of another person's figures writes an ``operation`` audit record ``usage.read`` whose
``user_id`` is that person, so ``usage_reads`` (``meshclaw usage reads``) shows it to them, with the
period asked for (``since``, ``until``) and the days actually seen (``seen``: ``[[first, last], ...]``,
ISO days, inclusive); a refused read is recorded the same way (``seen`` empty). Organisation
aggregates are recorded once (``usage.read-aggregate``).

Periods are UTC days ``[start, end)``; the default is the last 30 days including today. Organisation
aggregates count closed days only (never today, which is still changing: ``usage_privacy``, rule 5);
their default is the 30 days up to yesterday.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from meshclaw.domain.errors import NotAuthorized, UsageError
from meshclaw.store.usage import SECONDS_PER_DAY
from meshclaw.store.usage_queries import Sums, rollup, run_models, run_tokens, run_totals, run_triggers

from .actor import Actor
from .context import Context
from .journal import REFUSED, record, record_many
from .records import AuditEntry
from .usage_chart import observe
from .usage_notes import notes_for
from .usage_org import seen_days, visible_windows
from .usage_privacy import ORGANISATION, groups_in, released
from .usage_value import KINDS, LOOK_BACK, Outcome, derive, minutes_table
from .usage_waste import WASTE_PRIVATE_DAYS, Finding, findings

DEFAULT_DAYS = 30
BY = ("agent", "day", "model", "trigger")
EPOCH = date(1970, 1, 1)


@dataclass
class Figures:
    """Tokens and cost (``sums``) beside value: outcomes by kind, accepted outcomes, minutes saved."""

    sums: Sums = field(default_factory=Sums)
    outcomes: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    minutes_saved: float = 0.0

    @property
    def tokens_per_accepted(self) -> float | None:
        return self.sums.tokens / self.accepted if self.accepted else None

    @property
    def cost_per_accepted(self) -> float | None:
        return self.sums.cost / self.accepted if self.accepted else None

    def count(self, outcome: Outcome, minutes: dict[str, float]) -> None:
        self.outcomes[outcome.kind] = self.outcomes.get(outcome.kind, 0) + 1
        if KINDS[outcome.kind].accepted:
            self.accepted += 1
            self.minutes_saved += minutes.get(outcome.kind, 0.0)

    def as_dict(self) -> dict[str, Any]:
        s = self.sums
        return {"requests": s.requests, "input_tokens": s.input_tokens, "output_tokens": s.output_tokens,
                "cached_tokens": s.cached_tokens, "reasoning_tokens": s.reasoning_tokens, "cost": round(s.cost, 6),
                "latency_s": round(s.latency_s, 3), "outcomes": dict(sorted(self.outcomes.items())),
                "accepted": self.accepted, "minutes_saved": self.minutes_saved,
                "tokens_per_accepted": self.tokens_per_accepted, "cost_per_accepted": self.cost_per_accepted}


@dataclass
class UsageReport:
    subject: str  # a user id, "team of M", or a group name
    scope: str  # me | person | team | organisation
    start: date
    end: date  # the day after the last
    total: Figures
    by: str | None = None
    rows: list[tuple[str, Figures]] = field(default_factory=list)
    waste: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    people: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "scope": self.scope, "since": self.start.isoformat(),
                "until": (self.end - timedelta(days=1)).isoformat(), "people": self.people, "by": self.by,
                "total": self.total.as_dict(), "rows": [{"key": k, **f.as_dict()} for k, f in self.rows],
                "waste": [w.as_dict() for w in self.waste], "notes": self.notes}


def period(since: date | None = None, until: date | None = None, today: date | None = None) -> tuple[date, date]:
    """``[start, end)`` for a report: ``since`` .. ``until`` inclusive (default: the 30 days up to today).
    Raises UsageError when ``since`` is after ``until``, or when the period reaches past the dates Python
    can name (``--until 9999-12-31``: its end, the next day, cannot be named; ``--until 0001-01-01``
    without ``--since``: its 30 days reach before the year 1)."""
    today = today or datetime.now(timezone.utc).date()
    last = until or today
    if last >= date.max:
        raise UsageError(f"--until {last} is the last day a date can name: a report ends on "
                         f"{date.max - timedelta(days=1)} at the latest")
    if since is None:
        try:
            since = last - timedelta(days=DEFAULT_DAYS - 1)
        except OverflowError:
            raise UsageError(f"the {DEFAULT_DAYS} days up to --until {last} reach before the year 1: "
                             "give --since too, or a later --until") from None
    if since > last:
        if until is None:
            raise UsageError(f"the period is empty: --since {since} is in the future (today is {today}, UTC)")
        raise UsageError(f"the period is empty: --since {since} is after --until {last}")
    return since, last + timedelta(days=1)


def day_arg(value: str | None, today: date | None = None) -> date | None:
    """A day given by a person (CLI ``--since``, the MCP tool's ``since``): an ISO date, or ``7d`` / ``30d``
    (the last that many days up to today, UTC: ``1d`` and ``0d`` are today). None for none. Raises
    UsageError for anything else, or for a span reaching before the year 1."""
    if not value:
        return None
    if value.endswith("d") and value[:-1].isdigit():
        try:
            return (today or datetime.now(timezone.utc).date()) - timedelta(days=max(int(value[:-1]) - 1, 0))
        except OverflowError:
            raise UsageError(f"{value!r} reaches before the year 1: use a shorter span or a date") from None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"not a day: {value!r} (use 2026-11-23, or 7d / 30d)") from None


def _n(d: date) -> int:
    return (d - EPOCH).days


def _dt(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=timezone.utc)


def _day_label(n: int) -> str:
    return (EPOCH + timedelta(days=n)).isoformat()


def _check_by(by: str | None, allowed: tuple[str, ...] = BY) -> None:
    if by is not None and by not in allowed:
        raise UsageError(f"--by is one of {', '.join(allowed)}, not {by!r}")


def _report(ctx: Context, windows: list[tuple[frozenset[str], date, date]], by: str | None) -> tuple[Figures, list[tuple[str, Figures]], list[Outcome]]:
    """Figures over ``windows`` (users × days), grouped ``by``, with the outcomes that fall inside them."""
    wins = [(users, _n(a), _n(b)) for users, a, b in windows]
    rows: dict[str, Figures] = {}
    if by:  # one query: the total is the sum of the rows (each request is in exactly one row)
        total = Figures()
        for key, sums in rollup(ctx.store.db, wins, (by,)).items():
            label = _day_label(key[0]) if by == "day" else str(key[0])
            rows[label] = Figures(sums)
            total.sums.add(sums)
    else:
        total = Figures(next(iter(rollup(ctx.store.db, wins).values()), Sums()))
    minutes = minutes_table(ctx.config.usage)
    found: list[Outcome] = []
    if windows:
        users = sorted(set().union(*(w[0] for w in windows)))
        start, end = min(w[1] for w in windows), max(w[2] for w in windows)
        for o in derive(ctx.store, users, _dt(start), _dt(end)):
            if any(o.user_id in u and a <= o.at.date() < b for u, a, b in windows):
                found.append(o)
                total.count(o, minutes)
        if by:  # each outcome in exactly one row, so the rows add up to the total
            row_of = _outcome_rows(ctx, by, found)
            for o in found:
                rows.setdefault(row_of(o), Figures()).count(o, minutes)
    return total, sorted(rows.items()), found


def _outcome_rows(ctx: Context, by: str, outcomes: list[Outcome]) -> Any:
    """The row an outcome counts in, ``by``: its run's agent; the UTC day of its deciding record; what
    started its run (``runs.trigger``, ``manual`` for a run not in the table, as the usage writer
    labels its tokens); the model that made most of its run's tokens (``run_models``)."""
    if by == "agent":
        return lambda o: o.agent
    if by == "day":
        return lambda o: o.at.date().isoformat()
    runs = {o.run_id for o in outcomes}
    keys = run_triggers(ctx.store.db, runs) if by == "trigger" else run_models(ctx.store.db, runs)
    return lambda o: keys.get(o.run_id, "manual")


def _waste(ctx: Context, windows: list[tuple[frozenset[str], date, date]], outcomes: list[Outcome],
           hide_recent: bool) -> list[Finding]:
    if not windows:
        return []
    users = sorted(set().union(*(w[0] for w in windows)))
    start, end = min(w[1] for w in windows), max(w[2] for w in windows)
    def tokens(run_ids: list[str]) -> dict[str, int]:  # read only when there are runs to judge
        return run_tokens(ctx.store.db, users, _n(start), _n(end)) if run_ids else {}

    found = findings(ctx, users, _dt(start), _dt(end), outcomes, tokens)
    found = [f for f in found if any(f.user_id in u and a <= f.at.date() < b for u, a, b in windows)]
    if hide_recent:
        cutoff = datetime.now(timezone.utc) - timedelta(days=WASTE_PRIVATE_DAYS)
        found = [f for f in found if f.at < cutoff]
    return found


def my_usage(ctx: Context, actor: Actor, *, since: date | None = None, until: date | None = None,
             by: str | None = None) -> UsageReport:
    """The actor's own figures over the period, grouped ``by`` (agent, day, model, trigger), with waste
    findings and suggestions. Raises UsageError for a bad period or grouping."""
    _check_by(by)
    start, end = period(since, until)
    observe(ctx.config, ctx.store)
    windows = [(frozenset({actor.user_id}), start, end)]
    total, rows, outcomes = _report(ctx, windows, by)
    models = [str(k[0]) for k in rollup(ctx.store.db, [(w[0], _n(w[1]), _n(w[2])) for w in windows], ("model",))]
    return UsageReport(actor.user_id, "me", start, end, total, by, rows, _waste(ctx, windows, outcomes, False),
                       notes_for(ctx, total, models))


def _audit_reads(ctx: Context, actor: Actor, windows: list[tuple[frozenset[str], date, date]], scope: str,
                 start: date, end: date) -> None:
    """One ``usage.read`` record per person in ``windows`` but the actor: the period asked for and the
    days of it the actor saw of that person (``seen``)."""
    subjects = set().union(*(w[0] for w in windows)) if windows else set()
    record_many(ctx, actor, "usage.read", [
        {"owner": subject, "scope": scope, "since": start.isoformat(), "until": (end - timedelta(days=1)).isoformat(),
         "seen": [[a.isoformat(), b.isoformat()] for a, b in seen_days(windows, subject)]}
        for subject in sorted(subjects - {actor.user_id})])


def person_usage(ctx: Context, actor: Actor, user_id: str, *, since: date | None = None, until: date | None = None,
                 by: str | None = None) -> UsageReport:
    """``user_id``'s figures, for the days ``actor`` was in their management chain (all days if it is
    the actor). Audited (``usage.read``, visible to ``user_id``). Raises NotAuthorized (audited) when
    the actor managed them on none of the period's days, NotFound for an unknown user."""
    if user_id == actor.user_id:
        return my_usage(ctx, actor, since=since, until=until, by=by)
    ctx.config.user(user_id)
    _check_by(by)
    start, end = period(since, until)
    windows = visible_windows(ctx.config, actor.user_id, [user_id], start, end, observe(ctx.config, ctx.store))
    if not windows:
        reason = (f"{actor.user_id} may not read {user_id}'s usage for {start} to {end - timedelta(days=1)}: only "
                  f"{user_id}, and whoever managed them on a day, may read that day's figures")
        record(ctx, actor, "usage.read", verdict=REFUSED, owner=user_id, reason=reason, scope="person",
               since=start.isoformat(), until=(end - timedelta(days=1)).isoformat(), seen=[])
        raise NotAuthorized(reason)
    _audit_reads(ctx, actor, windows, "person", start, end)
    total, rows, outcomes = _report(ctx, windows, by)
    report = UsageReport(user_id, "person", start, end, total, by, rows, _waste(ctx, windows, outcomes, True))
    covered = sum((b - a).days for _, a, b in windows)
    if covered < (end - start).days:
        report.notes.append(f"{covered} of {(end - start).days} days: only the days you were in {user_id}'s "
                            "management chain")
    return report


def team_usage(ctx: Context, actor: Actor, *, since: date | None = None, until: date | None = None,
               by: str | None = None) -> UsageReport:
    """The actor's direct and indirect reports together (each for the days the actor managed them),
    grouped by agent, day, model or trigger — not by person. Every person included is audited
    (``usage.read``). An actor with no reports gets an empty report saying so."""
    _check_by(by)
    start, end = period(since, until)
    others = [u.id for u in ctx.config.users if u.id != actor.user_id]
    observed = observe(ctx.config, ctx.store)
    windows = [(users - {actor.user_id}, a, b) for users, a, b
               in visible_windows(ctx.config, actor.user_id, others, start, end, observed) if users - {actor.user_id}]
    people = set().union(*(w[0] for w in windows)) if windows else set()
    _audit_reads(ctx, actor, windows, "team", start, end)
    total, rows, outcomes = _report(ctx, windows, by)
    report = UsageReport(f"team of {actor.user_id}", "team", start, end, total, by, rows,
                         _waste(ctx, windows, outcomes, True), people=len(people))
    if not people:
        report.notes.append(f"{actor.user_id} managed nobody in this period (users[].manager)")
    return report


def org_usage(ctx: Context, actor: Actor, *, group: str = ORGANISATION, since: date | None = None,
              until: date | None = None, by: str | None = None, audited: bool = True) -> UsageReport:
    """An organisation aggregate for an admin or auditor: ``organisation`` or ``team:M``, by day or not,
    under the k rule (``usage_privacy``), over closed UTC days only (rule 5: today is never counted; the
    default period is the 30 days up to yesterday, and a period reaching today ends the day before, with
    a note; one of today or later alone is an empty report with a note). Raises NotAuthorized for anyone
    else, UsageError for an unknown group or a grouping other than ``day``. ``audited`` False: the caller
    audited the reading once already (the metrics endpoint, when it starts)."""
    if not actor.reads_everything:
        record(ctx, actor, "usage.read-aggregate", verdict=REFUSED, group=group,
               reason="organisation figures are for admins and auditors")
        raise NotAuthorized(f"{actor.user_id} may not read organisation usage figures: only an admin or auditor may")
    _check_by(by, ("day",))
    today = datetime.now(timezone.utc).date()
    if since is None and until is None:
        until = today - timedelta(days=1)  # the last 30 closed days
    asked = start, end = period(since, until, today)
    observed = observe(ctx.config, ctx.store)
    check_groups([group], groups_in(ctx.config, start, end, observed))
    notes: list[str] = []
    if end > today:  # today is never counted (usage_privacy, rule 5)
        if start < today:
            notes.append(f"{CLOSED_ONLY}: these figures end on {today - timedelta(days=1)}")
        else:
            notes.append(CLOSED_ONLY if start == today else "the period begins after today: organisation "
                         "figures cover closed days only")
        end = max(today, start)
    total, rows, people, withheld, any_cell = _org_figures(ctx, group, start, end, by, observed)
    if end > _settled_before() and end > start:
        notes.append(UNSETTLED.format(days=LOOK_BACK.days))
    shown = (start, end) if end > start else asked  # no closed day in it: the period asked, empty
    if audited:
        record(ctx, actor, "usage.read-aggregate", group=group, since=shown[0].isoformat(),
               until=(shown[1] - timedelta(days=1)).isoformat(), people=len(people))
    k = ctx.config.usage.min_group_size
    report = UsageReport(group, "organisation", *shown, total, by, rows, notes=notes, people=len(people))
    if withheld:
        report.notes.append(f"{withheld} day(s) with usage withheld: fewer than {k} people, or they would let "
                            f"figures be added or subtracted to show fewer than {k} people "
                            "(see `meshclaw usage explain`)")
    if end > start and not any_cell:
        report.notes.append(f"no day in this period had {k} or more people using models")
    return report


CLOSED_ONLY = "today is still open: organisation figures cover closed days only"
UNSETTLED = ("outcomes of the last {days} days are left out until they settle (a draft sent or a message moved "
             "back within {days} days still changes them)")


def _settled_before() -> date:
    """The first day whose outcomes may still change (``usage_value.LOOK_BACK`` days before today, UTC):
    organisation figures count outcomes only before it, so a closed day's figure never changes later
    and two reads cannot be differenced into one person's action."""
    return datetime.now(timezone.utc).date() - LOOK_BACK


def _org_figures(ctx: Context, group: str, start: date, end: date, by: str | None,
                 observed: Any = None) -> tuple[Figures, list[tuple[str, Figures]], set[str], int, bool]:
    """``group``'s released figures over the closed days ``[start, end)`` (``end`` at most today): the
    total, the rows by day (when ``by`` is ``day``), the people counted, how many days with usage were
    withheld, and whether any group had a cell released."""
    total, rows = Figures(), {}
    people: set[str] = set()
    if end <= start:
        return total, [], people, 0, False
    everyone = [u.id for u in ctx.config.users]
    per_day_user = rollup(ctx.store.db, [(everyone, _n(start), _n(end))], ("day", "user"))
    contributors: dict[int, set[str]] = {}
    for (day, user) in per_day_user:
        contributors.setdefault(day, set()).add(user)
    cells = released(ctx.config, ctx.config.usage.min_group_size, contributors, lambda n: EPOCH + timedelta(days=n),
                     observed)
    minutes = minutes_table(ctx.config.usage)
    for day, groups in cells.items():
        if group in groups:
            people |= groups[group]
            day_sums = Sums()
            for user in groups[group]:
                day_sums.add(per_day_user[(day, user)])
            total.sums.add(day_sums)
            if by == "day":
                rows[_day_label(day)] = Figures(Sums().add(day_sums))
    settled = _settled_before()
    for o in derive(ctx.store, everyone, _dt(start), _dt(min(end, settled))):
        n = _n(o.at.date())
        if o.user_id in cells.get(n, {}).get(group, frozenset()):
            total.count(o, minutes)
            if by == "day":
                rows.setdefault(_day_label(n), Figures()).count(o, minutes)
    withheld = sum(1 for day in contributors if group not in cells.get(day, {}))
    return total, sorted(rows.items()), people, withheld, bool(cells)


def check_groups(groups: list[str], known: dict[str, int]) -> None:
    """Raises UsageError naming the first of ``groups`` that is not in ``known`` (``org_groups``), with the
    groups there are: the one rule for ``usage --org --group`` and ``metrics --group``."""
    for group in groups:
        if group not in known:
            raise UsageError(f"no group {group!r} (groups: {', '.join(sorted(known))})")


def org_groups(ctx: Context, actor: Actor, *, since: date | None = None, until: date | None = None) -> dict[str, int]:
    """The groups ``org_usage`` answers for (admin or auditor), each with its largest size in the period."""
    if not actor.reads_everything:
        raise NotAuthorized(f"{actor.user_id} may not list organisation groups: only an admin or auditor may")
    start, end = period(since, until)
    return groups_in(ctx.config, start, end, observe(ctx.config, ctx.store))


def usage_reads(ctx: Context, actor: Actor, *, since: datetime | None = None) -> list[AuditEntry]:
    """Every read of the actor's usage figures by someone else (and every refused attempt), newest first.
    Each entry's ``data``: ``actor`` (the reader), ``scope`` (person or team), ``since`` / ``until`` (the
    period asked for, ISO days) and ``seen`` (``[[first, last], ...]``: the days of it the reader saw;
    empty for a refusal; absent from records written before it was kept)."""
    out = []
    for r in ctx.store.audit.records(kind="operation", user_id=actor.user_id, since=since, newest_first=True):
        data = r.data or {}
        if data.get("operation") == "usage.read" and data.get("actor") != actor.user_id:
            out.append(AuditEntry.of(r))
    return out


def prune(ctx: Context, actor: Actor, *, now: datetime | None = None) -> int:
    """Delete raw usage events older than ``usage.retention_days`` (admin only; audited). Reports are
    unchanged: they read the daily rollups and run totals. Returns how many events were deleted."""
    if not actor.is_admin:
        record(ctx, actor, "usage.prune", verdict=REFUSED, reason="only an admin may prune usage events")
        raise NotAuthorized(f"{actor.user_id} may not prune usage events: only an admin may")
    now = now or datetime.now(timezone.utc)
    before = now - timedelta(days=ctx.config.usage.retention_days)
    before = datetime.fromtimestamp(int(before.timestamp()) // SECONDS_PER_DAY * SECONDS_PER_DAY, timezone.utc)
    deleted = ctx.store.usage.prune(before)
    record(ctx, actor, "usage.prune", before=before.isoformat(), deleted=deleted)
    return deleted


def run_usage(ctx: Context, run_ids: list[str]) -> dict[str, Sums]:
    """Kept totals of runs the caller has already been allowed to read (``operations.runs`` checks)."""
    return run_totals(ctx.store.db, run_ids)
