"""The guard's payload check on large arguments: time per call by argument size (it must grow linearly).

    .venv/bin/python benchmarks/bench_payload.py

A run has read an outsider's long document; a mail body of N words is checked for relayed
passages (``ProvenanceTracker.relayed``), links and personal data (``policy.content``). Prints the
seconds per check for each size and the ratio to the smallest, so quadratic growth shows at once
(the former passage search took 4.7 s at 50,000 words).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from meshclaw.domain.effects import Effect, ToolSpec  # noqa: E402
from meshclaw.domain.provenance import OWNER, Label, Source, Trust  # noqa: E402
from meshclaw.policy.content import payload_problems  # noqa: E402
from meshclaw.policy.provenance import ProvenanceTracker  # noqa: E402

SEND = ToolSpec("email.send", Effect.EXTERNAL, sensitive_args=("to",))
WORDS = [f"w{i}" for i in range(5000)] + ["the", "and", "of", "to", "report", "quarter", "budget", "team"]


def text(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def main() -> int:
    prov = ProvenanceTracker()
    prov.observe("Summarise the supplier's document for Bob", OWNER)
    prov.observe(text(50_000, 1), Label(Source.EXTERNAL, Trust.UNTRUSTED, "a supplier's document"))
    base = None
    print(f"{'words':>8} {'relayed (s)':>12} {'all payload checks (s)':>24} {'ratio/size':>11}")
    for n in (1_000, 5_000, 10_000, 50_000):
        body = text(n, 2)
        started = time.perf_counter()
        prov.relayed(body)
        relayed = time.perf_counter() - started
        started = time.perf_counter()
        payload_problems(SEND, {"to": ["bob@example.com"], "body": body}, prov, reaches_others=True)
        everything = time.perf_counter() - started
        base = base or everything / n
        print(f"{n:>8} {relayed:>12.4f} {everything:>24.4f} {everything / n / base:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
