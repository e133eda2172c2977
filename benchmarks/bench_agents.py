"""The four flagship agents on their labelled scenario sets: accuracy per agent, cases, seconds per item, misses.

    .venv/bin/python benchmarks/bench_agents.py --model scripted   # no model: code-decided parts only
    .venv/bin/python benchmarks/bench_agents.py --model bundled    # the bundled 1.5B model judges the rest
    .venv/bin/python benchmarks/bench_agents.py --model bundled --triage none   # the three others only

Sets (all made up, in benchmarks/data/):

- inbox triage: ``triage_set.py`` (Northwind, 46 messages) and the demo's seed inbox (48), through
  ``bench_triage.run_set`` — the workflow's own path (evidence → decide → the model's judgement →
  settle). The label decides the filing (the label as a keyword; spam and phishing to Junk), so a
  right label is a right filing. Draft-or-not is checked against the right label (the workflow's ``labels.needs_draft``);
  with ``--model scripted`` the messages left to the model count as misses;
- deploy watcher: ``deploy_cases.py`` through ``decision.situation`` → ``decision.decide`` (and
  ``rollback_mode`` on a real agent configuration);
- status report: ``report_cases.py`` through ``compose.compose``: every must-item present, every
  must-not absent;
- meeting scheduler: ``slot_cases.py`` through ``slots.window_for`` → ``slots.choose_slots`` (with each
  colleague's zone), and with a model the request reading (``scheduler_requests.py``, the workflow's
  one judgement).

Seconds per item include model requests; the machine is shared (2 cores), so the load is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


@dataclass
class Tally:
    """One agent's results: cases right, cases, seconds spent, and a line per miss."""

    agent: str
    right: int = 0
    cases: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, ok: bool, seconds: float, miss: str) -> None:
        self.right, self.cases, self.seconds = self.right + ok, self.cases + 1, self.seconds + seconds
        if not ok:
            self.misses.append(miss)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


# --- deploy watcher ---------------------------------------------------------------------------


def watcher_agent(grant: str | None, autonomy: str) -> Any:
    """A deploy-watcher agent configuration with the case's rollback grant and autonomy."""
    from meshclaw.domain.config import Agent

    grants: list[Any] = ["deploy.services", "deploy.health", "deploy.logs"]
    if grant is not None:
        grants.append({"tool": "deploy.rollback", "approval": grant})
    return Agent.model_validate({"name": "watcher", "owner": "maya", "instructions": "Watch.", "model": "m",
                                 "workflow": "deploy-watcher", "autonomy": autonomy,
                                 "toolsets": {"deploy": {"grants": grants}}})


def deploy_decision(case: Any) -> Any:
    """The watcher's decision for one case, through the functions the workflow calls."""
    from benchmarks.data.deploy_cases import NOW
    from meshclaw.agents.deploy_watcher.decision import decide, meeting_state, rollback_mode, situation

    busy = {"busy": {"me": [[NOW.isoformat(), "2026-06-03T15:00"]] if case.in_meeting else []}}
    away, _ = meeting_state(busy, NOW)
    first = {"service": case.service["service"], "health": case.checks[0], "version": case.service["version"]}
    return decide(situation(case.service, first, case.checks, away, NOW,
                            rollback_mode(watcher_agent(case.grant, case.autonomy))))


def run_deploy() -> Tally:
    from benchmarks.data.deploy_cases import CASES

    t = Tally("deploy-watcher")
    for case in CASES:
        got, s = timed(lambda: deploy_decision(case))
        t.add(got.action == case.expected, s, f"{case.name}: expected {case.expected}, got {got.action} ({got.reason})")
    return t


# --- status report ----------------------------------------------------------------------------


def report_problems(case: Any) -> list[str]:
    """What is wrong with the report ``compose`` makes for one case: missing must-items, present must-nots."""
    from benchmarks.data import report_cases as r
    from meshclaw.agents.status_report.compose import ReportOwner, Week, compose

    owner = ReportOwner(name="Maya Chen", address=r.ME, org_domains=r.ORG, chat_ids=frozenset({r.CHAT_ID}),
                        work_domains=case.work_domains)
    week = Week(owner=owner, since=r.SINCE, now=r.NOW, sent=case.sent, events=case.events, chat=case.chat,
                services=case.services, skipped=list(case.skipped))
    body = compose(week).body.lower()
    return ([f"missing {m!r}" for m in case.must if m.lower() not in body]
            + [f"has {m!r}" for m in case.must_not if m.lower() in body])


def run_report() -> Tally:
    from benchmarks.data.report_cases import CASES

    t = Tally("status-report")
    for case in CASES:
        problems, s = timed(lambda: report_problems(case))
        t.add(not problems, s, f"{case.name}: " + "; ".join(problems))
    return t


# --- meeting scheduler ------------------------------------------------------------------------


def first_slot(case: Any) -> tuple[str | None, list]:
    """The first slot (local "YYYY-MM-DD HH:MM") and all slots the scheduler proposes for one case."""
    from benchmarks.data.slot_cases import ZONES
    from meshclaw.agents.meeting_scheduler.slots import choose_slots, window_for

    window = window_for(case.when, case.now, case.on)
    zones = {p: ZoneInfo(ZONES[p]) for p in case.people if p in ZONES}
    slots = choose_slots(case.freebusy(), window, case.minutes, zones)
    return (f"{slots[0][0]:%Y-%m-%d %H:%M}" if slots else None), slots


def run_slots(t: Tally) -> None:
    from benchmarks.data.slot_cases import CASES

    for case in CASES:
        (got, _), s = timed(lambda: first_slot(case))
        t.add(got == case.expected, s, f"slot: {case.name}: expected {case.expected}, got {got}")


async def run_requests(t: Tally, model: Any) -> None:
    """The scheduler's one judgement (reading the request), scored as ``bench_triage.run_scheduler`` does."""
    from benchmarks.data.scheduler_requests import CASES
    from meshclaw.agents.meeting_scheduler.request import settle
    from meshclaw.agents.meeting_scheduler.workflow import EXAMPLES, INSTRUCTIONS, MeetingRequest
    from meshclaw.runtime.judgement import ask_model, judgement_prompt

    for text, people, minutes, when, on in CASES:
        started = time.perf_counter()
        got = await ask_model(model, MeetingRequest, INSTRUCTIONS, judgement_prompt(text, EXAMPLES))
        got = settle(got, text)  # as the workflow does after its judgement
        ok = ([p.lower() for p in got.people] == [p.lower() for p in people] and got.minutes == minutes
              and got.when == when and (when != "date" or got.date == on))
        t.add(ok, time.perf_counter() - started,
              f"request {text!r}: got {got.people} {got.minutes} {got.when} {got.date}")
        print(f"  {'ok ' if ok else 'BAD'} request {time.perf_counter() - started:5.1f} s  {text[:60]}", flush=True)


# --- inbox triage -----------------------------------------------------------------------------


def draft_misses() -> list[str]:
    """Northwind cases whose draft-or-not the workflow gets wrong even with the right label (code only)."""
    from benchmarks.bench_triage import northwind
    from benchmarks.data.triage_set import cases
    from meshclaw.agents.inbox_triage.evidence import evidence_of
    from meshclaw.agents.inbox_triage.labels import needs_draft

    owner, history, _ = northwind()
    out = []
    for c in cases():
        ev = evidence_of(c.raw, owner, history)
        if needs_draft(c.label, ev) != c.draft:
            out.append(f"draft: case {c.n} {ev.subject[:50]!r} ({c.label}): expected draft={c.draft}")
    return out


def run_triage(model: Any, which: str = "both") -> Tally:
    from benchmarks.bench_triage import northwind, run_set, seed

    t = Tally("inbox-triage")
    for name, loader in (("northwind", northwind), ("seed", seed)):
        if which not in (name, "both"):
            continue
        started = time.perf_counter()
        right, n = asyncio.run(run_set(name, loader, model))
        t.right, t.cases, t.seconds = t.right + right, t.cases + n, t.seconds + time.perf_counter() - started
        if right < n:
            t.misses.append(f"{name}: {n - right} label(s) wrong or left to the model (listed above)")
    return t


def show(t: Tally) -> None:
    print(f"{t.agent:<18} {t.right:>7} {t.cases:>6} {100 * t.right / max(t.cases, 1):>8.1f}% "
          f"{t.seconds / max(t.cases, 1):>8.3f}", flush=True)


def bundled_model() -> Any:
    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models import bundled
    from meshclaw.surfaces.cli.home import meshclaw_home

    home = meshclaw_home()
    cfg = BundledModel(kind="bundled")
    started = time.perf_counter()
    bundled.start_bundled_server(cfg, home)
    print(f"bundled model server ready in {time.perf_counter() - started:.1f} s")
    return bundled.bundled_model(cfg, home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["scripted", "bundled"], default="scripted",
                        help="scripted: no model (code-decided parts); bundled: the bundled model judges the rest")
    parser.add_argument("--triage", choices=["both", "northwind", "seed", "none"], default="both",
                        help="which triage inbox to run (none: leave triage out; it is the slow one)")
    parser.add_argument("--no-requests", action="store_true", help="leave out the scheduler's request reading")
    args = parser.parse_args()
    model = bundled_model() if args.model == "bundled" else None
    print(f"model: {args.model}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)",
          flush=True)
    tallies = [run_deploy(), run_report()]
    sched = Tally("meeting-scheduler")
    run_slots(sched)
    if model is not None and not args.no_requests:
        asyncio.run(run_requests(sched, model))
    tallies.append(sched)
    for t in tallies:
        show(t)
    if args.triage != "none":
        triage = run_triage(model, args.triage)
        triage.misses += draft_misses() if args.triage in ("both", "northwind") else []
        tallies.insert(0, triage)
    print(f"\n{'agent':<18} {'right':>7} {'cases':>6} {'accuracy':>9} {'s/item':>8}")
    for t in tallies:
        show(t)
    total = sum(t.cases for t in tallies)
    print(f"{'all':<18} {sum(t.right for t in tallies):>7} {total:>6}")
    for t in tallies:
        if t.misses:
            print(f"\nmisses, {t.agent}:\n" + "\n".join(f"  {m}" for m in t.misses))
    if model is None:
        print("\n(scripted: no model was asked; triage messages left to the model count as misses, "
              "and the scheduler's request reading is not run)")


if __name__ == "__main__":
    main()
