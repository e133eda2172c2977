"""Turning what a judgement learnt from one episode into memory entries: merged, superseded or
proposed, never duplicated, each change a new version of its entry.

For each learnt item (kind, subject, text, confidence), code decides:

- an active entry on the same subject (or another with the same content words) says the same →
  **merged**: the episode is added to its sources, confidence rises;
- it says something else → **superseded**: a new version with the new text (the old one kept);
- nothing yet → **added**.

Whatever comes from an episode whose run read outside content is only **proposed** (status
``proposed``, ``target`` = the active entry it would change): it never steers a run until the owner
approves it (``operations/memory.py:review``). A proposal saying the same as an earlier one merges
into it.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Sequence

from pydantic import BaseModel, Field

from .embeddings import embed, from_bytes, to_bytes

SAME_TEXT = 0.93  # cosine above which two entries are about the same thing
LEARNABLE = ("fact", "preference", "procedure")


class Learned(BaseModel):
    """One thing worth remembering from an episode."""

    kind: Literal["fact", "preference", "procedure", "none"] = Field(
        description="fact: about people/things; preference: how the owner likes work done; procedure: how a task is done")
    subject: str = Field(max_length=80, description="what it is about, in 1-4 words, e.g. 'my manager', 'invoice filing'")
    text: str = Field(max_length=300, description="one short sentence in the owner's terms")
    confidence: float = Field(ge=0, le=1)


class Learnings(BaseModel):
    """What one episode teaches (at most three items; none when it teaches nothing)."""

    items: list[Learned] = Field(default_factory=list, max_length=3)


def subject_key(subject: str, text: str) -> str:
    """The merge key of an entry: its subject, lower-cased, without punctuation or leading articles."""
    words = re.findall(r"[^\W_]+", (subject or text[:60]).lower())
    while words and words[0] in ("the", "a", "an", "my", "our"):
        words = words[1:]
    return " ".join(words)[:200] or "general"


def _words(text: str) -> frozenset[str]:
    from meshclaw.store.memory_search import STOP

    return frozenset(w.rstrip("s") for w in re.findall(r"[^\W_]+", text.lower()) if w not in STOP)


def _same(a: str, b: str, va: Any = None, vb: Any = None) -> bool:
    """Do two texts say the same? The same content words (stop words, case, plural s aside). Embeddings
    only find *related* entries (``_related``): "deploys on Tuesdays" and "on Thursdays" are close in
    embedding space yet say different things."""
    return _words(a) == _words(b)


def _related(va: Any, vb: Any) -> bool:
    return va is not None and vb is not None and float(va @ vb) >= SAME_TEXT


def apply_learnings(store: Any, *, owner: str, agent: str, episode_id: int, episode_trust: str,
                    items: Sequence[Learned], by: str) -> list[dict[str, Any]]:
    """Apply ``items`` learnt from episode ``episode_id``; returns the changes made:
    [{"key", "version", "change", "kind", "text", "why"}] (change: added, merged, superseded,
    proposed, unchanged). Applying the same items again changes nothing (the episode is already a source)."""
    changes: list[dict[str, Any]] = []
    trusted = episode_trust == "trusted"
    for item in items:
        if item.kind not in LEARNABLE or not item.text.strip():
            continue
        text = " ".join(item.text.split())
        subject = subject_key(item.subject, text)
        vector = embed([f"{subject}: {text}"])[0]
        pool = store.memory.entries(owner, agents=[agent], kinds=[item.kind], statuses=["active", "proposed"])
        active = [e for e in pool if e.status == "active"]
        same_subject = next((e for e in active if e.subject == subject), None)
        # Another subject's entry is a target only if it says the same thing (then it merges): similar
        # embeddings are not enough ("Ann's team is Blue" vs "Ben's team is Blue" are close, yet both stand).
        near = next((e for e in active if _related(from_bytes(e.embedding), vector) and _same(e.text, text)), None)
        target = same_subject or near
        change = _one(store, owner, agent, item, subject, text, vector, target, pool, episode_id, trusted, by)
        if change is not None:
            changes.append(change)
    return changes


def _one(store: Any, owner: str, agent: str, item: Learned, subject: str, text: str, vector: Any, target: Any,
         pool: list[Any], episode_id: int, trusted: bool, by: str) -> dict[str, Any] | None:
    fields = dict(owner=owner, agent=agent, kind=item.kind, subject=subject, by=by)
    if target is not None and _same(target.text, text, from_bytes(target.embedding), vector):
        if episode_id in target.sources:
            return None
        if not trusted:  # outside content neither raises an active entry's confidence nor changes it
            return None
        conf = min(0.99, 1 - (1 - target.confidence) * (1 - item.confidence))
        row = store.memory.write(target.key, **{**fields, "subject": target.subject}, text=target.text,
                                 confidence=conf, status="active", sources=[*target.sources, episode_id],
                                 trust=target.trust, embedding=target.embedding, expect_version=target.version,
                                 reason=f"merged: episode {episode_id} says the same")
        return _change(row, "merged", f"episode {episode_id} confirms it (confidence {target.confidence:.2f} → {conf:.2f})")
    if trusted:
        if target is not None:
            row = store.memory.write(target.key, **fields, text=text, confidence=item.confidence, status="active",
                                     sources=[episode_id], trust="trusted", embedding=to_bytes(vector),
                                     expect_version=target.version,
                                     reason=f"superseded: was {target.text!r} (episodes {target.sources})")
            return _change(row, "superseded", f"episode {episode_id} says otherwise; was: {target.text}")
        row = store.memory.write(None, **fields, text=text, confidence=item.confidence, status="active",
                                 sources=[episode_id], trust="trusted", embedding=to_bytes(vector),
                                 reason=f"learnt from episode {episode_id}")
        return _change(row, "added", f"learnt from episode {episode_id}")
    # From outside content: a proposal, merged into an identical pending one.
    for p in (e for e in pool if e.status == "proposed"):
        if _same(p.text, text, from_bytes(p.embedding), vector):
            if episode_id in p.sources:
                return None
            row = store.memory.write(p.key, **{**fields, "subject": p.subject}, text=p.text,
                                     confidence=p.confidence, status="proposed", sources=[*p.sources, episode_id],
                                     trust="untrusted", target=p.target, embedding=p.embedding,
                                     expect_version=p.version, reason=f"episode {episode_id} proposes the same")
            return _change(row, "merged", f"episode {episode_id} proposes it too (still pending review)")
    row = store.memory.write(None, **fields, text=text, confidence=item.confidence, status="proposed",
                             sources=[episode_id], trust="untrusted", target=target.key if target else None,
                             embedding=to_bytes(vector),
                             reason=f"from episode {episode_id}, whose run read outside content: needs the owner's review")
    return _change(row, "proposed", "its run read outside content, so it waits for the owner's review"
                   + (f" (would replace: {target.text})" if target is not None else ""))


def _change(row: Any, change: str, why: str) -> dict[str, Any]:
    return {"key": row.key, "version": row.version, "change": change, "kind": row.kind, "text": row.text, "why": why}
