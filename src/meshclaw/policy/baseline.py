"""Noticing when an agent leaves its own habits: a tool it never used, or a sudden burst of calls.

Pure judgement on counts the runtime supplies; alerts inform people, they do not block (the guard
and budgets do the blocking).
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_HISTORY_RUNS = 3  # an agent needs some history before "never used" means anything
BURST_FLOOR = 10  # fewer calls than this in an hour is never a burst
BURST_FACTOR = 3.0


@dataclass(frozen=True)
class Deviation:
    kind: str  # "new-tool" | "burst"
    message: str


def deviations(agent: str, tool: str, *, earlier_runs: int, total_calls: int, last_hour: int, last_week: int,
               read: bool = False) -> list[Deviation]:
    """The ways this call leaves the agent's baseline. ``total_calls``/``last_hour``/``last_week``
    count the agent's calls of ``tool`` (ever, in the last hour, in the last 7 days) and include the
    call just made; ``read``: the tool only looks (Effect.READ).

    A first use of a granted read tool is expected (the grant says the agent may look), so only a
    first write or external call is a "new-tool" deviation; a burst is one for every tool: more than
    BURST_FLOOR calls in the last hour and over BURST_FACTOR times the agent's hourly rate of the week."""
    out = []
    if total_calls == 1 and earlier_runs >= MIN_HISTORY_RUNS and not read:
        out.append(Deviation("new-tool", f"{agent} used {tool} for the first time (after {earlier_runs} runs without it)"))
    hourly_baseline = max(0, last_week - last_hour) / (7 * 24 - 1)
    if last_hour >= BURST_FLOOR and last_hour > BURST_FACTOR * hourly_baseline:
        out.append(Deviation("burst", f"{agent} called {tool} {last_hour} times in the last hour "
                                      f"(its usual rate is {hourly_baseline:.1f} an hour)"))
    return out
