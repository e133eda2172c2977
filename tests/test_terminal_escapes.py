"""Terminal escape sequences, other controls and bidi overrides in outside text or a model answer
never reach a terminal through the command line: each is shown as a marker (``⟨U+001B⟩``)."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from tests.builders import Org, call, say
from tests.conftest import write_config

TITLE = "\x1b]0;pwned\x07"  # OSC: renames the terminal window
CLEAR = "\x1b[2J"  # CSI: clears the screen
RLO = "\u202e"  # right-to-left override: "moc.live@eve" reads as "eve@evil.com"
HOSTILE = f"Meeting{TITLE} moved{CLEAR} reply to {RLO}moc.live@eve\r\x9b31m done"
RAW = ("\x1b", "\x07", "\u202e", "\r", "\x9b")


def assert_clean(text: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{raw!r} reached the output: {text!r}"


def test_visible_marks_every_control_and_format_character():
    from meshclaw.domain.visible_text import _ALL, visible

    missing = [hex(c) for c in range(sys.maxunicode + 1)
               if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp") and not _ALL.match(chr(c))]
    assert missing == []
    assert visible(HOSTILE) == ("Meeting⟨U+001B⟩]0;pwned⟨U+0007⟩ moved⟨U+001B⟩[2J reply to ⟨U+202E⟩moc.live@eve"
                                "⟨U+000D⟩⟨U+009B⟩31m done")
    assert visible("zero\u200bwidth\u2060join\ufeff\u200d\u2066\u061c\u200e") == (
        "zero⟨U+200B⟩width⟨U+2060⟩join⟨U+FEFF⟩⟨U+200D⟩⟨U+2066⟩⟨U+061C⟩⟨U+200E⟩")
    assert visible("plain text, café, 日本") == "plain text, café, 日本"


def test_neutralise_keeps_lines_and_is_linear():
    import time

    from meshclaw.domain.visible_text import neutralise

    assert neutralise("a\nb\tc\rd") == "a\nb\tc⟨U+000D⟩d"
    big = ("word \u200b" * 200_000)
    started = time.perf_counter()
    out = neutralise(big)
    assert out.count("⟨U+200B⟩") == 200_000 and time.perf_counter() - started < 5


def test_clip_says_what_it_cut():
    from meshclaw.domain.visible_text import clip

    assert clip("short", 10) == "short"
    assert clip("x" * 1234, 10, how_to_see_all="--full shows all") == "x" * 10 + "…⟨+1,224 characters not shown; --full shows all⟩"


def test_live_run_events_are_neutralised():
    from meshclaw.surfaces.cli.printer import console, print_event

    with console.capture() as captured:
        print_event({"kind": "run", "status": "running", "agent": "keeper", "task": HOSTILE})
        print_event({"kind": "tool", "tool": "email.read", "args": {"uid": HOSTILE}, "verdict": "allow",
                     "reason": HOSTILE, "result": HOSTILE, "error": None})
        print_event({"kind": "alert", "message": HOSTILE})
        print_event({"kind": "run", "status": "failed", "output": HOSTILE, "error": HOSTILE})
    text = captured.get()
    assert_clean(text)
    assert text.count("⟨U+202E⟩moc.live@eve") == 7  # task, args, reason, result, alert, output, error


def test_an_error_line_is_neutralised():
    from meshclaw.domain.errors import ConnectorError
    from meshclaw.surfaces.cli.errors import friendly

    message, _ = friendly(ConnectorError(f"server said: {HOSTILE}"))
    assert_clean(message)
    assert "⟨U+001B⟩]0;pwned⟨U+0007⟩" in message


def test_worker_log_line_is_neutralised():
    from types import SimpleNamespace

    from meshclaw.surfaces.run_log import run_line

    line = run_line(SimpleNamespace(agent="keeper", trigger=f"email.received {HOSTILE}", id="r1", rehearsal=False,
                                    status="succeeded"), finished=True)
    assert_clean(line)


CONFIG = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("notes.add", text=HOSTILE), call("notes.list"), say(HOSTILE))
          .agent("keeper", instructions="Keep notes.", model="script", autonomy="auto",
                 toolsets={"notes": ["notes.add", "notes.list"]})
          .local_user("alice"))


@pytest.mark.slow
def test_no_raw_control_reaches_stdout_through_the_cli(home, cli):
    """A note carrying an OSC title, a screen clear and an RLO, and a model answer repeating it: `run`
    (live and --quiet), `runs`, `runs show`, `audit show` and `alerts` print markers, never the bytes."""
    write_config(home, CONFIG)
    cli("promote", "keeper", check=True)
    live = cli("run", "keeper", f"note this: {HOSTILE}", check=True)
    for out in (live.stdout, live.stderr):
        assert_clean(out)
    assert "⟨U+001B⟩]0;pwned⟨U+0007⟩" in live.stdout and "⟨U+202E⟩moc.live@eve" in live.stdout

    quiet = cli("run", "keeper", "again", "--quiet", process=True)
    assert_clean(quiet.stdout + quiet.stderr)

    run_id = json.loads(cli("runs", "--json", check=True).stdout)[0]["id"]
    for args in (("runs",), ("runs", "show", run_id), ("runs", "show", run_id, "--full"), ("audit", "show"),
                 ("alerts",)):
        shown = cli(*args, env={"COLUMNS": "300"}, check=True)
        assert_clean(shown.stdout + shown.stderr)
    full = cli("runs", "show", run_id, "--full", env={"COLUMNS": "300"}, check=True).stdout
    assert "⟨U+202E⟩moc.live@eve" in full
