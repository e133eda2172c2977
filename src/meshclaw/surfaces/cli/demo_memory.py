"""The demo night's last acts: the dreaming pass (memory consolidation) and the value the night produced.

``dream_pass`` consolidates each flagship's new episodes as Alice's nightly consolidation would
(``operations.memory.dream``: a run of the agent with workflow ``memory.dream``, bounded in model
judgements); ``memory_lines`` and ``value_lines`` read back what the summary shows: the dream diary
and the outcomes the night's runs produced (``operations.usage_value``, the rules `meshclaw usage
explain` prints), with minutes saved from the configurable table.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

DREAM_CALLS = 3  # judgements per agent in the demo's dreaming pass (the nightly default is larger)


async def dream_pass(night: Any, runtime: Any, actor: Any, say: Any, record_type: Any) -> None:
    """Consolidate the memory of every flagship that ran tonight, one after the other, with progress."""
    from meshclaw.domain.errors import MeshclawError
    from meshclaw.operations.memory import dream

    ran = list(dict.fromkeys(r.agent for r in night.runs if r.run_id))
    for agent in ran:
        record = record_type(f"{agent}: dream", "consolidate tonight's episodes")
        began = time.monotonic()
        say(f"[bold]{agent}[/bold]: dreaming (consolidating tonight's episodes, at most {DREAM_CALLS} judgements)")
        try:
            done = await dream(runtime, actor, agent, calls=DREAM_CALLS)
        except MeshclawError as e:
            say(f"  dreaming of {agent} did not start: {e}")
            continue
        record.run_id, record.status = done.run_id, done.status
        record.output, record.error = done.output or "", done.error or ""
        record.seconds = time.monotonic() - began
        night.runs.append(record)
        say(f"  dreaming of {agent} {done.status} in {record.seconds:.1f} s")


def memory_lines(store: Any, owner: str) -> list[str]:
    """What tonight's dreaming changed, from the dream diary (newest last), or why nothing changed."""
    lines = []
    for d in reversed(store.dreams.dreams(owner, limit=10)):
        changes = d.changes or []
        head = f"{d.agent}: {d.status}, {d.episodes} episode(s) read, {len(changes)} change(s)"
        lines.append(head)
        for c in changes[:5]:
            entry = store.memory.entry(str(c.get("key", "")), c.get("version"))
            what = f"{entry.kind} “{entry.text}”" if entry is not None else str(c.get("key", ""))
            lines.append(f"  - {c.get('change', '')} {what[:110]}: {c.get('why', '')}"[:200])
    if not lines:
        return ["no consolidation ran tonight"]
    lines.append("outside text never becomes an active entry without your review: `meshclaw memory review`")
    return lines


def value_lines(config: Any, store: Any, owner: str, since: datetime) -> list[str]:
    """The outcomes of tonight's runs and the minutes they save (``usage_value``), in one line each."""
    from meshclaw.operations.usage_value import KINDS, derive, minutes_table

    until = datetime.now(timezone.utc) + timedelta(seconds=1)
    outcomes = derive(store, [owner], since, until)
    if not outcomes:
        return ["no outcome yet: drafts count once you send them, filings once they stay filed"]
    table = minutes_table(getattr(config, "usage", None))
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.kind] = counts.get(o.kind, 0) + 1
    minutes = sum(table.get(k, 0) * n for k, n in counts.items() if KINDS[k].accepted)
    lines = [f"{n} × {k.replace('_', ' ')}" + (f" (about {table.get(k, 0):g} min each)" if KINDS[k].accepted else "")
             for k, n in sorted(counts.items(), key=lambda x: -x[1])]
    lines.append(f"about {minutes:g} minutes of Alice's time saved (`meshclaw usage explain` shows every rule)")
    return lines
