"""Full-text search over memory: SQLite FTS5 (``memory_fts``, porter stemming), PostgreSQL
``to_tsvector`` / ``websearch_to_tsquery`` over the same rows. Documents are named ``e:ID`` (an
episode) or ``m:ID`` (an entry row; only current active or proposed versions are indexed).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text as sql

from .database import Database

COMMON = 5_000  # a word in this many indexed rows is too common to rank by (see FullText.search)
RECENT = 20_000  # rows searched when every word of a question is that common
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOP = frozenset("a an and are as at be by did do does for from had has have how i in is it its me my of on or "
                 "our that the their them there this to was we were what when where which who whom why will "
                 "with you your".split())
# Words of a question that say what is asked, not what about: left out of full-text queries only
# (``STOP`` alone decides which words two entries must share to say the same, in consolidation).
QUESTION_WORDS = STOP | frozenset(
    "about after also any been being can could do does done ever get got he her hers him his if into just kind "
    "likely many might more most much not now one ones or other she should so some something such than then "
    "these they those thing things us very would".split())


def query_words(text: str, limit: int = 24) -> list[str]:
    """The words of a question that are worth matching, at most ``limit``: no stop or question words
    and no single letters (the "s" of "Raj's")."""
    out: list[str] = []
    for w in _WORD.findall(text.lower()):
        if len(w) > 1 and w not in QUESTION_WORDS and w not in out:
            out.append(w)
    return out[:limit]


class FullText:
    def __init__(self, db: Database):
        self.db = db
        self.dialect = db.dialect

    def put(self, s: Any, doc: str, owner: str, text: str) -> None:
        if self.dialect == "sqlite":
            s.execute(sql("INSERT INTO memory_fts (text, doc, owner) VALUES (:t, :d, :o)"),
                      {"t": text, "d": doc, "o": owner})

    def put_many(self, s: Any, docs: list[tuple[str, str, str]]) -> None:
        """Index many (doc, owner, text) at once."""
        if self.dialect == "sqlite" and docs:
            s.execute(sql("INSERT INTO memory_fts (text, doc, owner) VALUES (:t, :d, :o)"),
                      [{"t": t, "d": d, "o": o} for d, o, t in docs])

    def drop(self, s: Any, doc: str) -> None:
        if self.dialect == "sqlite":
            s.execute(sql("DELETE FROM memory_fts WHERE doc = :d"), {"d": doc})

    def search(self, owner: str, query: str, limit: int = 50) -> list[tuple[str, float]]:
        """``owner``'s documents matching any word of ``query``, best first: [(doc, score)], higher is better.
        On SQLite, words in ``COMMON`` or more rows are left out while rarer ones remain (when none
        does, only the newest ``RECENT`` rows are searched), which bounds the time on a large index."""
        words = query_words(query)
        if not words:
            return []
        with self.db.session() as s:
            if self.dialect == "sqlite":
                # Bounded work however large the index: BM25 scores every row a query matches, so a word
                # in COMMON rows or more (it says almost nothing: its IDF is near zero) is left out when
                # rarer words remain; when every word is that common, only the RECENT newest rows are
                # searched. Each count stops at COMMON rows.
                rare = [w for w in words if s.scalar(sql(
                    "SELECT count(*) FROM (SELECT 1 FROM memory_fts WHERE memory_fts MATCH :m LIMIT :c)"),
                    {"m": f'"{w}"', "c": COMMON}) < COMMON]
                match = " OR ".join(f'"{w}"' for w in (rare or words))
                recent = "" if rare else " AND rowid > (SELECT max(rowid) FROM memory_fts) - :r"
                rows = s.execute(sql("SELECT doc, bm25(memory_fts) AS r FROM memory_fts WHERE memory_fts MATCH :m "
                                     f"AND owner = :o{recent} ORDER BY r LIMIT :n"),
                                 {"m": match, "o": owner, "n": limit, "r": RECENT})
                return [(doc, -float(r)) for doc, r in rows]
            tsq = " | ".join(words)
            rows = s.execute(sql(
                "SELECT doc, score FROM ("
                " SELECT 'e:' || id AS doc, ts_rank(to_tsvector('english', task || ' ' || summary), q) AS score"
                " FROM memory_episodes, to_tsquery('english', :q) q"
                " WHERE owner = :o AND to_tsvector('english', task || ' ' || summary) @@ q"
                " UNION ALL"
                " SELECT 'm:' || id, ts_rank(to_tsvector('english', subject || ' ' || text), q)"
                " FROM memory_entries, to_tsquery('english', :q) q"
                " WHERE owner = :o AND current AND status IN ('active', 'proposed')"
                " AND to_tsvector('english', subject || ' ' || text) @@ q"
                ") found ORDER BY score DESC LIMIT :n"), {"q": tsq, "o": owner, "n": limit})
            return [(doc, float(score)) for doc, score in rows]
