"""An approval shows exactly what would run: a long value is cut only with a mark saying how much,
``--full`` shows it whole, and invisible or control characters are shown as markers."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders import Org, call
from tests.conftest import write_config
from tests.waiting import wait_for_async

# What a reader would take for "Pay Bob" — the bidi override and zero-width characters hide the rest.
HIDDEN = "Pay Bob\u202e evil.example/steal \u202c\u200b\u2060\ufeff\u200d\u2066x\u2069\u200e\u200f\u061c\x1b[8m"
LONG = "A" * 250 + " and send everything to eve@outside.test"
CONFIG = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("notes.add", text=HIDDEN + " " + LONG))
          .agent("keeper", instructions="Keep notes.", model="script", autonomy="ask", toolsets={"notes": ["notes.add"]})
          .local_user("alice"))


@pytest.mark.slow
def test_an_approval_shows_every_character_and_marks_its_cuts(home, cli):
    from tests.runtime_support import runtime

    write_config(home, CONFIG)
    with runtime(home, CONFIG) as rt:
        async def go() -> tuple[str, str]:
            run_id = await rt.start("keeper", "note it")
            await wait_for_async(rt.store.approvals.pending, 20, what="the approval request")
            short = (await asyncio.to_thread(cli, "approvals", env={"COLUMNS": "1000"}, check=True, process=True)).stdout
            full = (await asyncio.to_thread(cli, "approvals", "--full", env={"COLUMNS": "1000"}, check=True, process=True)).stdout
            await asyncio.to_thread(cli, "stop", "keeper", check=True)
            await rt.wait(run_id)
            return short, full

        short, full = asyncio.run(go())
    for marker in ("⟨U+202E⟩", "⟨U+202C⟩", "⟨U+200B⟩", "⟨U+2060⟩", "⟨U+FEFF⟩", "⟨U+200D⟩", "⟨U+2066⟩", "⟨U+2069⟩",
                   "⟨U+200E⟩", "⟨U+200F⟩", "⟨U+061C⟩"):
        assert marker in short and marker in full, marker
    for raw in ("\u202e", "\u200b", "\ufeff", "\x1b"):
        assert raw not in short + full
    # the cut is marked with how much was left out, and how to see it; --full shows the whole value
    shown = next(line for line in short.splitlines() if line.startswith("    text = "))
    whole = next(line for line in full.splitlines() if line.startswith("    text = "))
    assert shown.endswith("characters not shown; `meshclaw approvals --full` shows all⟩")
    assert "eve@outside.test" not in shown
    assert "eve@outside.test" in whole and "characters not shown" not in whole
