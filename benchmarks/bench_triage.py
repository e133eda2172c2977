"""Inbox triage accuracy and seconds per message, on two labelled inboxes; the scheduler's request reading.

    .venv/bin/python benchmarks/bench_triage.py                 # evidence only: what code decides, and how often
    .venv/bin/python benchmarks/bench_triage.py --model bundled # the bundled 1.5B model judges the rest

Sets: ``northwind`` (benchmarks/data/triage_set.py: 45 made-up messages written apart from the demo
inbox) and ``seed`` (the demo's 48-message inbox, with the labels below). For each message the
triage code path is exactly the workflow's (``evidence_of`` → ``decide`` → the model's one
judgement → ``settle``); the benchmark prints accuracy per set and per label, how many were decided
by evidence, a confusion list, and seconds per message (model requests included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

# The demo inbox's right labels, by seed number (see connectors/email/seed).
SEED_LABELS = {
    1: "urgent", 2: "needs_reply", 3: "needs_reply", 4: "needs_reply", 5: "fyi", 6: "needs_reply", 7: "needs_reply",
    8: "needs_reply", 9: "fyi", 10: "fyi", 11: "urgent", 12: "needs_reply", 13: "needs_reply", 14: "urgent",
    15: "newsletter", 16: "newsletter", 17: "fyi", 18: "fyi", 19: "spam", 20: "spam", 21: "spam", 22: "spam",
    23: "phishing", 24: "phishing", 25: "phishing", 26: "phishing", 27: "needs_reply", 28: "needs_reply",
    29: "needs_reply", 30: "fyi", 31: "urgent", 32: "fyi", 33: "fyi", 34: "urgent", 35: "fyi", 36: "phishing",
    37: "phishing", 38: "phishing", 39: "phishing", 40: "fyi", 41: "needs_reply", 42: "needs_reply", 43: "fyi",
    44: "fyi", 45: "fyi", 46: "fyi", 47: "fyi", 48: "needs_reply",
}


def northwind():
    from benchmarks.data import triage_set as t
    from meshclaw.agents.inbox_triage.evidence import History, Owner

    owner = Owner(address=t.OWNER, domains=t.ORG, insiders=t.INSIDERS)
    return owner, History(contacts=t.CONTACTS, sent_ids=t.SENT_IDS), [(c.raw, c.label) for c in t.cases()]


def seed():
    from meshclaw.agents.inbox_triage.evidence import History, Owner
    from meshclaw.connectors.email.seed import catalog, sent_messages
    from meshclaw.connectors.email.seed.__init__ import _number

    owner = Owner(address="alice@example.com", domains=("example.com",),
                  insiders=("Bob Manager", "Carol SRE", "Dave Sales", "Erin Finance"))
    contacts = frozenset({"bob@example.com", "dave@example.com"})
    sent_ids = frozenset(f"<seed-{_number(r):03d}@example.com>" for r in sent_messages())
    return owner, History(contacts=contacts, sent_ids=sent_ids), [(raw, SEED_LABELS[_number(raw)]) for _, raw in catalog()]


async def run_set(name, loader, model) -> tuple[int, int]:
    from meshclaw.agents.inbox_triage.evidence import evidence_of
    from meshclaw.agents.inbox_triage.labels import decide, judge_message
    from meshclaw.runtime.judgement import ask_model, judgement_prompt

    async def ask(schema, instructions, content, examples, name):
        return await ask_model(model, schema, instructions, judgement_prompt(content, examples))

    owner, history, items = loader()
    right, by_evidence, wrong, per_label, seconds = 0, 0, [], Counter(), []
    for raw, gold in items:
        started = time.perf_counter()
        ev = evidence_of(raw, owner, history)
        verdict = decide(ev)
        if verdict is not None:
            by_evidence += 1
        elif model is not None:
            verdict = await judge_message(ev, ask)
        seconds.append(time.perf_counter() - started)
        got = verdict.label if verdict else None
        if verdict is not None and verdict.decided_by == "model":
            print(f"  {'ok ' if got == gold else 'BAD'} {gold:>11} → {got:<11} {seconds[-1]:5.1f} s  {ev.subject[:50]}",
                  flush=True)
        per_label[(gold, got == gold)] += 1
        if got == gold:
            right += 1
        elif got is not None:
            wrong.append(f"  {gold:>11} → {got:<11} {ev.subject[:60]}  ({verdict.reason[:60]})")
        else:
            wrong.append(f"  {gold:>11} → (model)     {ev.subject[:60]}")
    n = len(items)
    print(f"\n[{name}] {n} messages: {right}/{n} right ({100 * right / n:.1f}%), {by_evidence} decided by evidence")
    for label in ("urgent", "needs_reply", "fyi", "newsletter", "spam", "phishing"):
        ok, bad = per_label[(label, True)], per_label[(label, False)]
        if ok + bad:
            print(f"  {label:<11} {ok}/{ok + bad}")
    print(f"  seconds per message: mean {sum(seconds) / n:.2f}, max {max(seconds):.2f}")
    print("  wrong or left to the model:" if wrong else "  none wrong")
    print("\n".join(wrong))
    return right, n


async def run_scheduler(model) -> tuple[int, int]:
    """The meeting scheduler's one judgement: people, length and window read right from each request
    (``bench_agents.run_requests``: the model's reading, then the workflow's own check)."""
    from benchmarks.bench_agents import Tally, run_requests

    t = Tally("meeting-scheduler requests")
    await run_requests(t, model)
    print(f"\n[meeting-scheduler requests] {t.right}/{t.cases} read right ({100 * t.right / max(1, t.cases):.1f}%), "
          f"seconds per request: mean {t.seconds / max(1, t.cases):.2f}")
    print("\n".join(f"  {m}" for m in t.misses))
    return t.right, t.cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["none", "bundled"], default="none")
    parser.add_argument("--set", choices=["northwind", "seed", "both", "scheduler"], default="both")
    args = parser.parse_args()
    model = None
    if args.model == "bundled":
        from meshclaw.domain.config import BundledModel
        from meshclaw.runtime.models import bundled
        from meshclaw.surfaces.cli.home import meshclaw_home

        home = meshclaw_home()
        cfg = BundledModel(kind="bundled")
        model = bundled.bundled_model(cfg, home)
        started = time.perf_counter()
        bundled.start_bundled_server(cfg, home)
        print(f"bundled model server ready in {time.perf_counter() - started:.1f} s")
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    total = [0, 0]
    for name, loader in (("northwind", northwind), ("seed", seed)):
        if args.set in (name, "both"):
            r, n = asyncio.run(run_set(name, loader, model))
            total[0] += r
            total[1] += n
    if total[1]:
        print(f"\ntriage, all: {total[0]}/{total[1]} ({100 * total[0] / total[1]:.1f}%)")
    if model is not None and args.set in ("scheduler", "both"):
        asyncio.run(run_scheduler(model))


if __name__ == "__main__":
    main()
