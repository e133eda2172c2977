"""The memory store on its own: versioned entries, the lease, hybrid search on SQLite and on the
PostgreSQL scale-out store (full text there is PostgreSQL's own), and a large history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.runtime.memory.consolidate import Learned, apply_learnings
from meshclaw.runtime.memory.embeddings import embed, to_bytes
from meshclaw.runtime.memory.retrieval import CONTEXT_TOKENS, memory_context, search
from meshclaw.store.facade import Store
from meshclaw.store.memory import EpisodeRecord, StaleEntry

T0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
LINES = [
    "Alice reports to Raj Patel, head of platform engineering.",
    "Prod deploys happen on Tuesdays after the change review.",
    "Invoices from Kestrel Print go to Finance/2026.",
    "The team dinner is at Trattoria Aurelio on Friday.",
    "Reorganisation: Alice now reports to Mina Okafor.",
]


def _episodes(owner: str, lines: list[str], trust: str = "trusted", first: int = 0) -> list[EpisodeRecord]:
    vectors = embed(lines)
    return [EpisodeRecord(run_id=f"{owner}-{first + i}-{trust}", owner=owner, agent="keeper",
                          at=T0 + timedelta(minutes=first + i),
                          trigger="manual", task=line, outcome="succeeded", summary="done", decisions=[],
                          corrections=[], trust=trust, embedding=to_bytes(v)) for i, (line, v) in enumerate(zip(lines, vectors))]


def _exercise(store: Store) -> None:
    store.memory.add_episodes(_episodes("alice", LINES))
    store.memory.add_episodes(_episodes("bob", ["Bob reports to Raj Patel too."]))
    found = search(store, "alice", "who does Alice report to now?", k=3)
    assert {f.text.split("\n")[0] for f in found[:2]} == {LINES[0], LINES[4]}
    assert all(f.kind == "episode" and "Bob" not in f.text for f in found)  # never another owner's
    [ep] = store.memory.episodes("alice", ids=[int(found[0].ref)])
    changes = apply_learnings(store, owner="alice", agent="keeper", episode_id=ep.id, episode_trust="trusted",
                              items=[Learned(kind="fact", subject="my manager", text="Mina Okafor is Alice's manager.",
                                             confidence=0.8)], by="test")
    assert [c["change"] for c in changes] == ["added"]
    hits = search(store, "alice", "manager Okafor", k=5, episodes=False)
    assert [h.kind for h in hits] == ["fact"] and "Mina" in hits[0].text
    entry = store.memory.entry(changes[0]["key"])
    with pytest.raises(StaleEntry):  # decided against an older version: refused, nothing written
        store.memory.write(entry.key, owner="alice", agent="keeper", kind="fact", subject=entry.subject, text="x",
                           confidence=0.5, status="active", sources=[], trust="trusted", by="t", reason="",
                           expect_version=entry.version - 1)
    assert store.memory.entry(entry.key).version == 1
    assert store.dreams.acquire("alice/keeper", "run-1", 30)[0] and not store.dreams.acquire("alice/keeper", "run-2", 30)[0]
    store.dreams.release("alice/keeper", "run-1")
    assert store.dreams.acquire("alice/keeper", "run-2", 30)[0]


def test_memory_store_on_sqlite(tmp_path):
    _exercise(Store(tmp_path / "home"))


@pytest.mark.postgres
def test_memory_store_on_postgres(tmp_path, pg_url):
    store = Store(tmp_path / "home", pg_url)
    assert store.db.dialect == "postgresql"
    _exercise(store)


@pytest.mark.slow
def test_a_history_of_100000_episodes_is_searched_within_the_budget(tmp_path):
    store = Store(tmp_path / "home")
    services = [to_bytes(v) for v in embed([f"handled a ticket for service {k}" for k in range(31)])]
    routine = [EpisodeRecord(run_id=f"r{i}", owner="alice", agent="keeper", at=T0 + timedelta(minutes=i),
                             trigger="cron", task=f"Routine task {i}: handled ticket T-{i} for service {i % 31}",
                             outcome="succeeded", summary="done", decisions=[], corrections=[], trust="trusted",
                             embedding=services[i % 31]) for i in range(100_000)]
    routine[73_519] = _episodes("alice", ["Raj Patel asked to move the quarterly offsite to Lindenhof Hall"],
                                first=73_519)[0]
    for lo in range(0, len(routine), 25_000):
        store.memory.add_episodes(routine[lo:lo + 25_000])
    assert store.memory.count_episodes("alice") == 100_000
    found = search(store, "alice", "where is the quarterly offsite?", k=5)
    assert "Lindenhof" in found[0].text
    context = memory_context(store, "alice", "keeper", "where is the quarterly offsite?")
    assert 0 < context.tokens <= CONTEXT_TOKENS and "Lindenhof" in context.text
