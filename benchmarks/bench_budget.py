"""Budget overshoot: concurrent runs of a talkative model against one token budget.

Twelve runs start at once against a budget of 9,500 tokens a day for their owner; the model would
answer each with 3,000 tokens. Printed for two providers: one that is never told a limit (what
happened before requests carried ``max_tokens``: a request reserved 1,024 output tokens, the
provider produced what it liked) and one that receives ``max_tokens`` derived from the remaining
budget and honours it, as every real provider does. Settled tokens and overshoot for each.

    nice -n 10 .venv/bin/python benchmarks/bench_budget.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET, RUNS, WORDS = 9_500, 12, 3_000
CONFIG = f"""
users: [{{id: alice, name: Alice, email: alice@example.com, budget: {{tokens_per_day: {BUDGET}}}}}]
models:
  script: {{kind: scripted, turns: [{{text: "{' '.join(f'word{i}' for i in range(WORDS))}"}}]}}
agents:
  - {{name: talker, owner: alice, instructions: Answer at length., model: script, autonomy: auto}}
"""


def measure(honours_max_tokens: bool) -> tuple[int, int, int]:
    """(tokens settled, runs answered, runs refused) for one provider behaviour."""
    from meshclaw.runtime.models import scripted
    from tests.runtime_support import runtime

    limited = scripted._limited
    if not honours_max_tokens:
        scripted._limited = lambda text, max_tokens: limited(text, None)  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp, runtime(Path(tmp), CONFIG) as rt:
            async def go():  # type: ignore[no-untyped-def]
                ids = [await rt.start("talker", f"tell me everything about topic {i}") for i in range(RUNS)]
                return [await rt.wait(i) for i in ids]

            outcomes = asyncio.run(go())
            used = rt.store.usage.totals(user_id="alice")
            return (used.input_tokens + used.output_tokens, sum(o.status == "succeeded" for o in outcomes),
                    sum(o.status == "stopped" for o in outcomes))
    finally:
        scripted._limited = limited  # type: ignore[assignment]


def main() -> None:
    print(f"{RUNS} concurrent runs, budget {BUDGET:,} tokens, the model wants {WORDS:,} tokens per answer")
    for name, honours in (("provider not told max_tokens (before)", False), ("max_tokens from the budget (now)", True)):
        settled, answered, refused = measure(honours)
        print(f"  {name:40s} settled {settled:>7,} tokens  overshoot {max(0, settled - BUDGET):>7,}  "
              f"answered {answered:>2}  refused {refused:>2}")


if __name__ == "__main__":
    main()
