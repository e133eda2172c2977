"""Retrieval's parts on their own (question words, dates a question names, the date-aware ranking,
MMR diversity) and memory's bad input: a corrupted episode, and a consolidation over a history of
100,000 episodes that stays bounded."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.operations import memory as ops
from meshclaw.operations.actor import Actor
from meshclaw.runtime.memory import retrieval
from meshclaw.runtime.memory.dreaming import render_episode
from meshclaw.runtime.memory.embeddings import embed, to_bytes
from meshclaw.runtime.memory.retrieval import periods, search
from meshclaw.store.facade import Store
from meshclaw.store.memory import EpisodeRecord
from meshclaw.store.memory_search import query_words
from tests.memory_support import CONFIG, Brain, item
from tests.runtime_support import runtime

T0 = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


def _episode(i: int, task: str, at: datetime, **kw) -> EpisodeRecord:  # type: ignore[no-untyped-def]
    fields = dict(run_id=f"r{i}", owner="alice", agent="keeper", at=at, trigger="manual", task=task,
                  outcome="succeeded", summary="done", decisions=[], corrections=[], trust="trusted",
                  embedding=to_bytes(embed([task])[0]))
    fields.update(kw)
    return EpisodeRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def brain(monkeypatch) -> Brain:
    return Brain().install(monkeypatch)


def test_a_question_is_matched_on_its_content_words():
    assert query_words("What kind of coffee would Raj's team likely order?") == ["coffee", "raj", "team", "order"]
    assert query_words("Who? What? When?") == []


def test_the_dates_a_question_names():
    assert periods("What did I do in May 2023?") == [(2023, 5, None)]
    assert periods("what happened on 2026-03-04") == [(2026, 3, 4)]
    assert periods("the offsite last June, and in 2022") == [(None, 6, None), (2022, None, None)]
    assert periods("what may I do about the deploy?") == []  # "may" the verb is no month


def test_a_question_that_names_a_period_prefers_what_happened_then(tmp_path, monkeypatch):
    store = Store(tmp_path / "home")
    store.memory.add_episodes([
        _episode(1, "Lunch with Raj at Aurelio; the lunch with Raj ran long, lunch again next month", T0),
        _episode(2, "Lunch with Raj at Kestrel", T0 + timedelta(days=95)),  # June
    ])
    question = "Where did I have lunch with Raj in June 2026?"
    monkeypatch.setattr(retrieval, "DATE_WEIGHT", 0.0)
    assert "Aurelio" in search(store, "alice", question, k=2)[0].text  # by words alone the March one wins
    monkeypatch.setattr(retrieval, "DATE_WEIGHT", 1.0)
    assert "Kestrel" in search(store, "alice", question, k=2)[0].text


def test_diversity_spreads_the_picks_over_different_episodes(tmp_path):
    store = Store(tmp_path / "home")
    same = "Prod deploys happen on Tuesdays after the change review"
    store.memory.add_episodes([_episode(i, same + "." * (i + 1), T0 + timedelta(days=i)) for i in range(4)]
                              + [_episode(9, "Deploys pause for the December freeze", T0 + timedelta(days=9))])
    plain = search(store, "alice", "when do prod deploys happen?", k=2)
    spread = search(store, "alice", "when do prod deploys happen?", k=2, diversity=0.6)
    assert all("Tuesdays" in f.text for f in plain)
    assert "Tuesdays" in spread[0].text and "December" in spread[1].text


def test_a_corrupted_episode_is_found_by_text_and_consolidated_without_loss(home, brain):
    brain.learn = {"Kestrel": {"items": [item("procedure", "invoice filing", "Kestrel invoices go to Finance/2026.")]}}
    with runtime(home, CONFIG) as rt:
        ep = _episode(1, "Filed the Kestrel invoice", T0, embedding=b"torn", decisions=["garbage", 7, None],
                      corrections=[{"no": "detail"}, "x"])
        stored, _ = rt.store.memory.add_episode(ep)
        assert [f.ref for f in search(rt.store, "alice", "Kestrel invoice")] == [str(stored)]
        assert "Filed the Kestrel invoice" in render_episode(rt.store.memory.episode(stored))
        done = asyncio.run(ops.dream(rt, Actor.of(rt.config, "alice"), "keeper"))
        assert "consolidated 1 episode(s)" in done.output and "1 added" in done.output
        assert rt.store.memory.count_episodes("alice", "keeper", undreamt=True) == 0


@pytest.mark.slow
def test_a_consolidation_over_100000_episodes_judges_only_its_bound_and_keeps_the_rest(home, brain):
    with runtime(home, CONFIG) as rt:
        rows = [EpisodeRecord(run_id=f"bulk-{i}", owner="alice", agent="keeper", at=T0 + timedelta(minutes=i),
                              trigger="cron", task=f"Routine task {i}", outcome="succeeded", summary="done",
                              decisions=[], corrections=[], trust="trusted") for i in range(100_000)]
        for lo in range(0, len(rows), 25_000):
            rt.store.memory.add_episodes(rows[lo:lo + 25_000])
        judged = len(brain.requests)
        done = asyncio.run(ops.dream(rt, Actor.of(rt.config, "alice"), "keeper", calls=3))
        assert len(brain.requests) - judged == 3
        assert "consolidated 3 episode(s)" in done.output and "99997 episode(s) left" in done.output
        assert rt.store.memory.count_episodes("alice", "keeper", undreamt=True) == 99_997
        assert search(rt.store, "alice", "routine task 73519", k=1)[0].text.startswith("Routine task 73519")


def test_full_text_leaves_out_words_too_common_to_rank_by(tmp_path, monkeypatch):
    from meshclaw.store import memory_search

    store = Store(tmp_path / "home")
    store.memory.add_episodes([_episode(i, f"Routine task {i}", T0 + timedelta(minutes=i)) for i in range(10)]
                              + [_episode(10, "Routine task: book Lindenhof Hall", T0 + timedelta(minutes=10))])
    monkeypatch.setattr(memory_search, "COMMON", 4)
    monkeypatch.setattr(memory_search, "RECENT", 3)
    found = store.memory.fulltext.search("alice", "routine task at Lindenhof")
    assert [d for d, _ in found] == ["e:11"]  # "routine" and "task" (in 11 rows) are left out
    newest = store.memory.fulltext.search("alice", "routine task")
    assert sorted(d for d, _ in newest) == ["e:10", "e:11", "e:9"]  # only the 3 newest rows are searched


def test_loading_the_embedding_model_leaves_the_console_logging_as_it_was():
    import subprocess
    import sys

    # A fresh process: wordllama's import (which calls logging.basicConfig(level=INFO)) really runs.
    code = ("import logging; from meshclaw.runtime.memory.embeddings import _model; _model(); "
            "r = logging.getLogger(); print(r.level, len(r.handlers))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["30", "0"], out.stdout + out.stderr  # WARNING, no handler: as Python starts
