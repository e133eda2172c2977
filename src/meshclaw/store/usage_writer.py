"""The metering write path: model requests are buffered in memory and written in batches.

``UsageRepository.record`` (what the runtime calls for every model request) hands its event to the
``Buffer`` of its repository. A batch is written by ``UsageRepository.write_batch`` — one transaction,
``executemany`` of integer-coded rows, names and runs as ids, daily rollups and run totals added in
the same transaction — when any of these happens first:

- ``FLUSH_EVENTS`` events are waiting (a busy process writes large batches);
- ``FLUSH_SECONDS`` have passed since the oldest waiting event (a timer thread; a quiet process
  writes within that time);
- anything in this process reads usage (every read in ``store/usage*.py`` flushes first, for every
  store on the same database URL, so a report never misses an event recorded before it);
- the process exits cleanly (``atexit``: interpreter shutdown, including after SIGTERM/SIGINT handled
  by the worker), or ``flush_all`` is called. A repository whose buffer holds events is kept alive
  until they are written, so a store dropped early (``meshclaw run`` without a worker) loses nothing.

Budgets stay exact: the first budget check of a subject (an agent or a user) in a process marks it
(``mark_exact``), and from then on that subject's requests are written at once, not buffered, so a
budget check in any process sees them (as before buffering). Events of the same process still in the
buffer are added to the figure a budget reads (``pending``), so nothing is missed in between.

A failed batch (the database unreachable) stays in the buffer and is tried again at the next flush;
the timer thread logs the failure, a caller's flush raises it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import Any

# Field positions of a queued event: a plain tuple in the field order of ``store/usage.py``
# ``UsageEventIn`` (tests/test_usage_writer.py checks that they agree).
EV_KEY, EV_RUN, EV_USER, EV_AGENT, EV_MODEL, EV_AT, EV_IN, EV_OUT, EV_CACHED, EV_CWRITE, EV_REASONING, EV_COST, EV_LATENCY, EV_PRICE, EV_TRIGGER, \
    EV_STEP = range(16)

FLUSH_EVENTS = 50_000
FLUSH_SECONDS = 0.5
log = logging.getLogger("meshclaw.usage")

_REPOS: dict[str, "weakref.WeakSet[Any]"] = {}  # database URL -> repositories with buffers
_WAITING: set[Any] = set()  # repositories whose buffers hold events: kept alive until they are written
_REPOS_LOCK = threading.Lock()


class Buffer:
    """Events recorded but not yet written, of one repository. Thread-safe."""

    def __init__(self, repo: Any, *, max_events: int = FLUSH_EVENTS, max_seconds: float = FLUSH_SECONDS):
        self._repo = weakref.ref(repo)
        self.max_events = max_events
        self.max_seconds = max_seconds
        self._events: list[Any] = []
        self._lock = threading.Lock()  # guards _events and _timer
        self._write = threading.RLock()  # one batch written at a time (the repository's name and run caches)
        self._timer: threading.Timer | None = None
        self.exact: set[tuple[str, str]] = set()  # ("agent", name) / ("user", id) with budgets: never buffered
        with _REPOS_LOCK:
            _REPOS.setdefault(url_key(repo.db.engine), weakref.WeakSet()).add(repo)

    def add(self, event: Any) -> None:
        """Queue one event; writes the batch in this thread when it reaches ``max_events``."""
        with self._lock:
            if not self._events:
                _keep(self._repo())  # a store dropped before its events are written must not lose them
            self._events.append(event)
            full = len(self._events) >= self.max_events
            if not full and self._timer is None:
                self._timer = threading.Timer(self.max_seconds, self._on_timer)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except Exception as e:  # noqa: BLE001 - kept in the buffer; the next flush tries again
            log.warning("usage: could not write %d buffered events (will retry): %s", len(self._events), e)

    def flush(self) -> int:
        """Write every waiting event (one transaction); returns how many were new. On an error the
        events stay queued (in order) and the error is raised."""
        repo = self._repo()
        if repo is None:
            return 0
        with self._write:
            with self._lock:
                batch, self._events = self._events, []
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            if not batch:
                return 0
            try:
                written = repo.write_batch(batch)
            except BaseException:
                with self._lock:
                    self._events[:0] = batch
                raise
            with self._lock:
                if not self._events:
                    _release(repo)
            return written

    def __len__(self) -> int:
        return len(self._events)

    def pending(self, subject: str, name: str, day: int, unit: str) -> float:
        """Tokens (input + output) or cost (currency units) of waiting events of ``subject`` ("agent" or
        "user") ``name`` from UTC day ``day`` on (what a budget check adds to the written figures)."""
        with self._lock:
            events = list(self._events)
        total = 0.0
        who = EV_AGENT if subject == "agent" else EV_USER
        for e in events:
            if e[who] == name and e[EV_AT] // 86_400 >= day:
                total += (e[EV_IN] + e[EV_OUT]) if unit == "tokens" else e[EV_COST]
        return total


def _keep(repo: Any) -> None:
    if repo is not None:
        with _REPOS_LOCK:
            _WAITING.add(repo)


def _release(repo: Any) -> None:
    with _REPOS_LOCK:
        _WAITING.discard(repo)


def url_key(engine: Any) -> str:
    """The database an engine (or connection) is on, as the registry names it."""
    url = getattr(getattr(engine, "engine", engine), "url", None)
    return str(url.render_as_string(hide_password=False)) if url is not None else f"unnamed:{id(engine)}"


def flush_url(url: str) -> None:
    """Write the buffers of every repository of this process on database ``url`` (before a read)."""
    with _REPOS_LOCK:
        repos = list(_REPOS.get(url, ()))
    for repo in repos:
        if len(repo.buffer):
            repo.buffer.flush()


def repositories_of(url: str) -> list[Any]:
    """The repositories of this process on ``url`` (whose buffers a budget check consults)."""
    with _REPOS_LOCK:
        return list(_REPOS.get(url, ()))


@atexit.register
def flush_all() -> None:
    """Write every buffered event of this process (called at a clean exit). Errors are logged."""
    with _REPOS_LOCK:
        repos = list({*(r for s in _REPOS.values() for r in s), *_WAITING})
    for repo in repos:
        try:
            repo.buffer.flush()
        except Exception as e:  # noqa: BLE001
            log.error("usage: %d events could not be written at exit: %s", len(repo.buffer), e)

