"""A run knows the time in its owner's zone, says when it has no real answer, and can be cancelled for good."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from meshclaw.runtime.answers import answer_problem, time_line
from tests.builders import call, say
from tests.runtime_support import run, runtime
from tests.test_approvals import _answer, _pending, config as approval_config
from tests.test_runs import config


@pytest.mark.parametrize("text", ["", "   ", "<tool_call>{\"name\": \"notes_add\"}</tool_call>",
                                  "The tool has run and its result is above.", "<tool_response>ok</tool_response>",
                                  "(the script has no more turns)", "The tool has run and its result is above. .",
                                  "(the script has no more turns)\n(the script has no more turns)"])
def test_template_text_and_empty_answers_are_not_answers(text):
    assert answer_problem(text) is not None


@pytest.mark.parametrize("text", ["Saved your note about the Friday report.", "Done: 3 messages filed.",
                                  "OK", "No", "42", "7."])
def test_real_answers_are_answers(text):
    assert answer_problem(text) is None


def test_the_time_line_is_in_the_owners_zone():
    at = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    assert time_line(at, "Europe/Paris") == "Now: Sunday 29 March 2026, 01:30 (Europe/Paris, the owner's time zone)."
    assert time_line(at, "Australia/Lord_Howe").startswith("Now: Sunday 29 March 2026, 11:30")


def test_every_model_request_carries_the_time_and_a_junk_answer_is_marked(home, monkeypatch):
    from meshclaw.runtime.models import scripted

    seen: list[str] = []
    real = scripted.scripted_model

    def recording(turns, name="scripted"):  # type: ignore[no-untyped-def]
        model = real(turns, name)
        play = model.function

        def wrapped(messages, info):  # type: ignore[no-untyped-def]
            seen.append(" | ".join(str(getattr(p, "content", "")) for m in messages for p in getattr(m, "parts", [])
                                   if type(p).__name__ == "UserPromptPart"))
            return play(messages, info)

        model.function = wrapped
        return model

    monkeypatch.setattr(scripted, "scripted_model", recording)
    text = (config().user("alice", email="alice@example.com", timezone="Asia/Kolkata")
            .scripted("script", call("notes.add", text="buy milk"), call("notes.list"),
                      say("The tool has run and its result is above.")))
    with runtime(home, text) as rt:
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "no-answer" and "prompt text" in outcome.error
        row = rt.store.runs.get(outcome.run_id)
        assert row.status == "no-answer" and row.task == "remember to buy milk"  # the stored task is the owner's words
    assert len(seen) == 3 and all("(Asia/Kolkata, the owner's time zone)." in s for s in seen)


def test_a_cancelled_run_never_carries_out_what_it_had_not_done(home):
    with runtime(home, approval_config()) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("keeper", "remember milk")
            [request] = await _pending(rt)
            outcome = await rt.cancel(run_id, "interrupted by alice (Ctrl-C)")
            with pytest.raises(LookupError, match="already cancelled"):
                _answer(rt, request, "approved")  # an answer that arrives afterwards is refused
            await asyncio.sleep(0.5)
            return outcome

        outcome = asyncio.run(go())
        assert outcome.status == "cancelled"
        assert outcome.error == "interrupted by alice (Ctrl-C); 0 call(s) had completed"
        assert rt.recover() == [] and rt.store.notes.list("alice") == []
        assert rt.store.approvals.pending() == []  # nothing left to approve
        assert rt.store.runs.get(outcome.run_id).status == "cancelled"
