"""LoCoMo retrieval regression: recall@k per question category, and (optional) answer quality with
the bundled model on a stratified, seeded sample.

LoCoMo (Maharana et al. 2024; 10 long conversations, 1,986 questions) is read from where the
workspace keeps it — ``../shared/datasets/locomo/locomo10.json`` beside the repository, or
``--data PATH`` — and never copied into the project (its licence is non-commercial).

Each conversation goes into a fresh store. Every turn becomes an episode dated with its session's
date, shaped like a run's episode: the turn before it in the same session is the "task" (what it
answers), the turn itself the "summary" (``--plain``: the turn alone, as before). Each question is
answered by MeshClaw's hybrid search (runtime/memory/retrieval.py). Recall@k: the share of a
question's evidence turns found in the top k, averaged per category. Categories as the dataset
numbers them: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial (the answer is
not in the conversation).

    .venv/bin/python benchmarks/bench_locomo.py              # recall@5/10 for all 1,986 questions
    .venv/bin/python benchmarks/bench_locomo.py --answer 30  # + the bundled model on 30 per category

Accuracy (--answer N): N questions per category drawn with ``random.Random(--seed)``; the bundled
model (Qwen2.5-Coder 1.5B Q4_K_M, llama.cpp) answers from the top 10, packed into the same 400-token
budget an agent's memory context has. Scores, as printed: LoCoMo's token F1 (answers lower-cased,
punctuation and a/an/the/and dropped; multi-hop answers split at commas, each part scored against
the prediction and averaged, as the LoCoMo paper does; no stemming), and "contains" (the whole
normalised gold answer appears in the prediction). Adversarial questions have no answer in the
conversation: right when the model says so ("not mentioned"), which is what F1 counts for them too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
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
NOT_SAID = "not mentioned"
INSTRUCTIONS = ("Answer the question using only the remembered lines of a conversation. Each line starts with "
                "the date it was said; resolve 'yesterday', 'last week' and the like from that date and give "
                f"dates as '7 May 2023'. Answer in a few words. If the lines do not say, answer '{NOT_SAID}'.")


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


def episodes(rows: list[tuple[str, datetime, str]], plain: bool) -> list[tuple[str, datetime, str, str]]:
    """(dia_id, date, task, summary) per turn: the previous turn of the same session as the task."""
    if plain:
        return [(dia, at, text, "") for dia, at, text in rows]
    return [(dia, at, rows[j - 1][2] if j and rows[j - 1][1] == at else "", text)
            for j, (dia, at, text) in enumerate(rows)]


def evidence(q: dict) -> set[str]:  # type: ignore[type-arg]
    return {e.strip() for ev in q.get("evidence", []) for e in re.split(r"[;,]", ev) if e.strip()}


def normalise(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", str(text).lower()) if w not in ("a", "an", "the", "and")]


def f1(pred: str, gold: str) -> float:
    """Token F1 of ``pred`` against ``gold`` after ``normalise`` (0..1)."""
    p, g = normalise(pred), normalise(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def score(category: int, pred: str, gold: str) -> tuple[float, bool]:
    """(F1, contains) as the module docstring says, per LoCoMo category."""
    if category == 5:
        right = NOT_SAID in pred.lower() or "no information" in pred.lower()
        return float(right), right
    if category == 1:
        parts = [p for p in str(gold).split(",") if p.strip()]
        value = statistics.mean(f1(pred, p) for p in parts)
    else:
        value = f1(pred, str(gold).split(";")[0] if category == 3 else gold)
    return value, " ".join(normalise(gold)) in " ".join(normalise(pred))


def sample_questions(data: list, per_category: int, seed: int) -> set[tuple[int, int]]:  # type: ignore[type-arg]
    """(conversation, question index) of ``per_category`` questions per category, drawn with ``seed``."""
    by_cat: dict[int, list[tuple[int, int]]] = {}
    for i, s in enumerate(data):
        for j, q in enumerate(s["qa"]):
            by_cat.setdefault(q["category"], []).append((i, j))
    rng = random.Random(seed)
    return {x for cat in sorted(by_cat) for x in rng.sample(by_cat[cat], min(per_category, len(by_cat[cat])))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="locomo10.json (default: ../shared/datasets/locomo)")
    parser.add_argument("--answer", type=int, default=0,
                        help="answer this many questions per category with the bundled model")
    parser.add_argument("--seed", type=int, default=13, help="seed of the answered sample")
    parser.add_argument("--plain", action="store_true", help="one turn per episode, without the turn it answers")
    args = parser.parse_args()
    path = args.data or next((p for p in CANDIDATES if p.is_file()), None)
    if path is None or not path.is_file():
        sys.exit("locomo10.json not found: pass --data PATH (it is not shipped with MeshClaw: non-commercial licence)")
    data = json.loads(path.read_text())
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from meshclaw.runtime.memory.embeddings import embed, to_bytes
    from meshclaw.runtime.memory.retrieval import CONTEXT_TOKENS, pack, search
    from meshclaw.store.facade import Store
    from meshclaw.store.memory import EpisodeRecord

    recall: dict[int, dict[int, list[float]]] = {k: {} for k in (5, 10)}
    latency, scores, model, spent = [], {}, None, []  # type: ignore[var-annotated]
    chosen = sample_questions(data, args.answer, args.seed) if args.answer else set()
    if args.answer:
        from bench_memory import ask, bundled

        model = bundled()
        print(f"answering {len(chosen)} questions ({args.answer} per category, random.Random({args.seed})) with the "
              "bundled model (Qwen2.5-Coder 1.5B Q4_K_M) on a shared machine: latency is pessimistic", flush=True)
    started, stopped = time.perf_counter(), ""
    with tempfile.TemporaryDirectory() as d:
        try:
            for i, sample in enumerate(data):
                store = Store(Path(d) / f"c{i}")
                rows = episodes(turns(sample), args.plain)
                eps = [EpisodeRecord(run_id=f"{i}:{dia}", owner="owner", agent="a", at=at, trigger="locomo", task=task,
                                     outcome="said", summary=summary, decisions=[], corrections=[], trust="trusted")
                       for dia, at, task, summary in rows]
                vectors = embed([e.text() for e in eps])
                store.memory.add_episodes(EpisodeRecord(**{**e.__dict__, "embedding": to_bytes(v)})
                                          for e, v in zip(eps, vectors))
                dia_of = {str(e.id): e.run_id.split(":", 1)[1] for e in store.memory.episodes("owner")}
                for j, q in enumerate(sample["qa"]):
                    cat, gold = q["category"], evidence(q)
                    t = time.perf_counter()
                    found = search(store, "owner", q["question"], k=10)
                    latency.append(time.perf_counter() - t)
                    got = [dia_of.get(f.ref) for f in found]
                    for k in (5, 10):
                        if gold:
                            recall[k].setdefault(cat, []).append(len(gold & set(got[:k])) / len(gold))
                    if model is not None and (i, j) in chosen:
                        context = pack(found, CONTEXT_TOKENS, header="Remembered lines:",
                                       line=lambda f: f"- [{f.at:%-d %B %Y}] {' '.join(f.text.split())}")
                        t = time.perf_counter()
                        said = ask(model, context.text, q["question"], INSTRUCTIONS)
                        took = time.perf_counter() - t
                        value, contains = score(cat, said, q.get("answer", NOT_SAID))
                        scores.setdefault(cat, []).append((value, contains, context.tokens, took))
                        print(f"  [{sum(len(v) for v in scores.values())}/{len(chosen)}] cat {cat} F1 {value:.2f}: "
                              f"{q['question']} -> {said[:70]!r} (gold {str(q.get('answer', NOT_SAID))[:40]!r}; "
                              f"{took:.1f} s)", flush=True)
                print(f"conversation {i + 1}/{len(data)}: {len(rows)} turns, {len(sample['qa'])} questions", flush=True)
        except KeyboardInterrupt:  # a long answer run stopped by hand: the figures so far
            stopped = (f" (interrupted after {sum(len(v) for v in scores.values())} answers; "
                       "recall over the questions reached)")

    total = sum(len(s["qa"]) for s in data)
    print(f"\nLoCoMo ({path.name}): {total} questions ({sum(len(v) for v in recall[5].values())} with evidence), "
          f"{'plain turns' if args.plain else 'turns with the turn they answer'}, {time.perf_counter() - started:.0f} s; "
          f"search p50 {statistics.median(latency) * 1000:.1f} ms{stopped}")
    print(f"{'category':<16}{'n':>6}{'recall@5':>10}{'recall@10':>11}")
    for cat in sorted(recall[5]):
        print(f"{cat} {NAMES.get(cat, '?'):<14}{len(recall[5][cat]):>6}{statistics.mean(recall[5][cat]):>10.1%}"
              f"{statistics.mean(recall[10][cat]):>11.1%}")
    every = [x for cat in recall[5] for x in recall[5][cat]]
    print(f"{'all':<16}{len(every):>6}{statistics.mean(every):>10.1%}"
          f"{statistics.mean(x for c in recall[10] for x in recall[10][c]):>11.1%}")
    if scores:
        print(f"\nanswers by the bundled model (Qwen2.5-Coder 1.5B Q4_K_M), {args.answer} per category, "
              f"random.Random({args.seed}); context: top 10 packed into {CONTEXT_TOKENS} tokens; scored by token F1 "
              "(LoCoMo's rule, no stemming) and 'contains'; adversarial: right when it says 'not mentioned'; "
              "latency measured on a shared 2-core machine (pessimistic)")
        print(f"{'category':<16}{'n':>4}{'F1':>7}{'contains':>10}{'tokens/q':>10}{'latency p50':>13}")
        for cat in sorted(scores):
            s = scores[cat]
            print(f"{cat} {NAMES.get(cat, '?'):<14}{len(s):>4}{statistics.mean(x[0] for x in s):>7.2f}"
                  f"{sum(x[1] for x in s) / len(s):>10.0%}{statistics.mean(x[2] for x in s):>10.0f}"
                  f"{statistics.median(x[3] for x in s):>12.1f}s")
        alls = [x for s in scores.values() for x in s]
        print(f"{'all':<16}{len(alls):>4}{statistics.mean(x[0] for x in alls):>7.2f}"
              f"{sum(x[1] for x in alls) / len(alls):>10.0%}{statistics.mean(x[2] for x in alls):>10.0f}"
              f"{statistics.median(x[3] for x in alls):>12.1f}s")


if __name__ == "__main__":
    main()
