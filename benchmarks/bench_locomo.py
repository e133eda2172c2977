"""LoCoMo retrieval regression: recall@k per question category, and (optional) answer quality with
the bundled model.

LoCoMo (Maharana et al. 2024; 10 long conversations, 1,986 questions) is read from where the
workspace keeps it — ``../shared/datasets/locomo/locomo10.json`` beside the repository, or
``--data PATH`` — and never copied into the project (its licence is non-commercial).

Each conversation goes into a fresh store: every turn becomes an episode dated with its session's
date; each question is answered by MeshClaw's hybrid search (FTS5 + WordLlama embeddings, RRF).
Recall@k: the share of a question's evidence turns found in the top k, averaged per category.
Categories as the dataset numbers them: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop,
5 adversarial (the answer is not in the conversation).

    .venv/bin/python benchmarks/bench_locomo.py                # recall@5/10 for all 1,986 questions
    .venv/bin/python benchmarks/bench_locomo.py --answer 10    # + the bundled model on 10 per category (1-4)

Accuracy (--answer): the bundled model (Qwen2.5-Coder 1.5B Q4_K_M) answers from the top 10; the
score is LoCoMo's token F1 against the gold answer, and "contains" (the gold answer appears).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
CANDIDATES = [ROOT.parent / "shared/datasets/locomo/locomo10.json",
              ROOT.parent.parent / "shared/datasets/locomo/locomo10.json"]
NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def when(text: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime(2023, 1, 1, tzinfo=timezone.utc)


def turns(sample: dict) -> list[tuple[str, datetime, str]]:  # type: ignore[type-arg]
    conv, out = sample["conversation"], []
    n = 1
    while f"session_{n}" in conv:
        at = when(conv.get(f"session_{n}_date_time", ""))
        for t in conv[f"session_{n}"]:
            text = f"{t['speaker']}: {t['text']}"
            if t.get("blip_caption"):
                text += f" [shares a photo: {t['blip_caption']}]"
            out.append((t["dia_id"], at, text))
        n += 1
    return out


def evidence(q: dict) -> set[str]:  # type: ignore[type-arg]
    return {e.strip() for ev in q.get("evidence", []) for e in re.split(r"[;,]", ev) if e.strip()}


def f1(pred: str, gold: str) -> float:
    p, g = re.findall(r"\w+", pred.lower()), re.findall(r"\w+", str(gold).lower())
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="locomo10.json (default: ../shared/datasets/locomo)")
    parser.add_argument("--answer", type=int, default=0, help="answer this many questions per category 1-4 with the bundled model")
    args = parser.parse_args()
    path = args.data or next((p for p in CANDIDATES if p.is_file()), None)
    if path is None or not path.is_file():
        sys.exit("locomo10.json not found: pass --data PATH (it is not shipped with MeshClaw: non-commercial licence)")
    data = json.loads(path.read_text())

    from meshclaw.runtime.memory.embeddings import embed, to_bytes
    from meshclaw.runtime.memory.retrieval import render, search
    from meshclaw.store.facade import Store
    from meshclaw.store.memory import EpisodeRecord

    recall: dict[int, dict[int, list[float]]] = {k: {} for k in (5, 10)}
    latency, scores, model = [], {}, None
    if args.answer:
        from bench_memory import answer, bundled

        model = bundled()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        for i, sample in enumerate(data):
            store = Store(Path(d) / f"c{i}")
            rows = turns(sample)
            vectors = embed([t for _, _, t in rows])
            store.memory.add_episodes(
                EpisodeRecord(run_id=f"{i}:{dia}", owner="owner", agent="a", at=at, trigger="locomo", task=text,
                              outcome="said", summary="", decisions=[], corrections=[], trust="trusted",
                              embedding=to_bytes(v)) for (dia, at, text), v in zip(rows, vectors))
            dia_of = {str(e.id): e.run_id.split(":", 1)[1] for e in store.memory.episodes("owner")}
            answered: Counter[int] = Counter()
            for q in sample["qa"]:
                cat, gold = q["category"], evidence(q)
                t = time.perf_counter()
                found = search(store, "owner", q["question"], k=10)
                latency.append(time.perf_counter() - t)
                got = [dia_of.get(f.ref) for f in found]
                for k in (5, 10):
                    if gold:
                        recall[k].setdefault(cat, []).append(len(gold & set(got[:k])) / len(gold))
                if model is not None and cat != 5 and answered[cat] < max(1, args.answer // len(data)):
                    answered[cat] += 1
                    context = "\n".join(render(f) for f in sorted(found, key=lambda f: f.at))
                    said = asyncio.run(answer(model, context, q["question"]))
                    scores.setdefault(cat, []).append((f1(said, q["answer"]), str(q["answer"]).lower() in said.lower()))
            print(f"conversation {i + 1}/{len(data)}: {len(rows)} turns, {len(sample['qa'])} questions", flush=True)
    total = sum(len(s["qa"]) for s in data)
    print(f"\nLoCoMo ({path.name}): {total} questions, {time.perf_counter() - started:.0f} s; search p50 "
          f"{statistics.median(latency) * 1000:.1f} ms")
    print(f"{'category':<16}{'n':>6}{'recall@5':>10}{'recall@10':>11}" + ("   F1 / contains (bundled model)" if model else ""))
    for cat in sorted(recall[5]):
        line = (f"{cat} {NAMES.get(cat, '?'):<14}{len(recall[5][cat]):>6}{statistics.mean(recall[5][cat]):>10.1%}"
                f"{statistics.mean(recall[10][cat]):>11.1%}")
        if cat in scores:
            s = scores[cat]
            line += f"   {statistics.mean(x for x, _ in s):.2f} / {sum(c for _, c in s) / len(s):.0%} (n={len(s)})"
        print(line)
    every = [x for cat in recall[5] for x in recall[5][cat]]
    print(f"{'all':<16}{len(every):>6}{statistics.mean(every):>10.1%}"
          f"{statistics.mean(x for c in recall[10] for x in recall[10][c]):>11.1%}")


if __name__ == "__main__":
    main()
