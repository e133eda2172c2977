"""Watching a mail folder for new messages, for triggers: IMAP IDLE, polling where IDLE is missing.

New means a UID above the highest one seen: it does not depend on \\Recent or \\Seen, so a message
read elsewhere meanwhile is still reported once, and nothing is marked read (the folder is opened
read-only). After a dropped connection the watcher reconnects with backoff and reports what arrived
in between; only a refused login or a missing folder ends it, since retrying cannot fix those.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import select
import ssl
import threading
import time
from typing import Any, Callable

from meshclaw.domain.provenance import Labelled

from .client import MailClient
from .errors import MailAuthError, MailError, MailNotFound
from .labels import message_label
from .reading import summarize
from .settings import EmailSettings

log = logging.getLogger(__name__)

IDLE_RESTART = 20 * 60  # re-issue IDLE well before servers drop idle clients (RFC 2177: 29 minutes)
MAX_BACKOFF = 60.0


def _buffered(imap: Any) -> bool:
    """Whether imaplib has unread bytes buffered. Peeks with the socket non-blocking, so an empty
    buffer costs one failed read instead of a wait."""
    sock = imap.sock
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return bool(imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(timeout)


class _Watcher:
    """The blocking part, run in a worker thread; hands each new message to ``emit``."""

    def __init__(self, settings: EmailSettings, password: str, folder: str, use_idle: bool, poll_interval: float,
                 stop: threading.Event, emit: Callable[[Any], None]):
        self.settings, self._password, self.folder = settings, password, folder
        self.use_idle, self.poll_interval = use_idle, poll_interval
        self.stop, self.emit = stop, emit
        self.last_uid: int | None = None
        self.uidvalidity: int | None = None
        self.mode = ""

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                with MailClient(self.settings, self._password) as client:
                    self._watch(client)
                    return
            except (MailAuthError, MailNotFound):
                raise  # retrying cannot fix a wrong password or a folder that is not there
            except MailError as e:
                log.warning("mail watcher for %s: %s; reconnecting in %.0fs", self.folder, e, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _watch(self, client: MailClient) -> None:
        status = client.select(self.folder)  # read-only: watching never changes a flag
        if self.last_uid is None or status["UIDVALIDITY"] != self.uidvalidity:
            # First start, or the server renumbered the folder: only mail from now on is new.
            uids = client.search("ALL")
            self.last_uid = max(uids) if uids else 0
            self.uidvalidity = status["UIDVALIDITY"]
        else:
            self._check(client)  # whatever arrived while the connection was down
        idle = self.use_idle and "IDLE" in client.box.client.capabilities
        mode = "idle" if idle else "poll"
        if mode != self.mode:
            self.mode = mode
            self.emit(("ready", mode))
        while not self.stop.is_set():
            if idle:
                self._idle_once(client)
            else:
                self.stop.wait(self.poll_interval)
                with client.guarded("polling for new mail"):
                    client.box.client.noop()
            if not self.stop.is_set():
                self._check(client)

    def _idle_once(self, client: MailClient) -> None:
        """Stay in IDLE until the server says anything, the stop flag is set, or it is time to renew."""
        imap = client.box.client
        with client.guarded("waiting for new mail (IDLE)"):
            client.box.idle.start()
            # Mail that arrived just before IDLE may already be announced: either parsed while
            # reading the "+ idling" reply, or sitting in imaplib's read buffer, where select() on
            # the socket cannot see it.
            announced = imap.untagged_responses.pop("EXISTS", None)
            deadline = time.monotonic() + IDLE_RESTART
            while not announced and not self.stop.is_set() and time.monotonic() < deadline:
                # Wake twice a second to notice the stop flag; any server line ends this IDLE round.
                if _buffered(imap) or select.select([imap.sock], [], [], 0.5)[0]:
                    imap._get_line()  # raises on EOF: a dropped connection is noticed at once
                    break
            client.box.idle.stop()

    def _check(self, client: MailClient) -> None:
        assert self.last_uid is not None
        uids = [u for u in client.search(f"UID {self.last_uid + 1}:*") if u > self.last_uid]
        if not uids:
            return
        for item in sorted(client.headers(uids), key=lambda i: int(i["UID"])):
            s = summarize(item)
            self.emit(Labelled({"folder": self.folder, **s.brief()}, message_label(self.settings, self.folder, s.sender)))
        self.last_uid = max(uids)


async def watch_inbox(
    settings: EmailSettings,
    password: str,
    on_message: Callable[[Labelled], Any],
    stop_event: asyncio.Event,
    *,
    folder: str | None = None,
    use_idle: bool = True,
    poll_interval: float = 30.0,
    on_ready: Callable[[str], Any] | None = None,
) -> None:
    """Call ``on_message`` with each new message's labelled summary until ``stop_event`` is set.

    ``on_message`` and ``on_ready`` may be plain or async functions; they run on the caller's event
    loop, one at a time, in arrival order. ``on_ready("idle" | "poll")`` says the watch is in place.
    Raises MailAuthError if the login is refused, MailNotFound if the folder does not exist;
    connection trouble is retried with backoff.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()
    watcher = _Watcher(settings, password, folder or settings.inbox, use_idle, poll_interval, stop,
                       lambda item: loop.call_soon_threadsafe(queue.put_nowait, item))
    worker = asyncio.ensure_future(asyncio.to_thread(watcher.run))
    stopper = asyncio.ensure_future(stop_event.wait())

    async def deliver(item: Any) -> None:
        target, arg = (on_ready, item[1]) if isinstance(item, tuple) else (on_message, item)
        if target is None:
            return
        try:
            result = target(arg)
            if inspect.isawaitable(result):
                await result
        except Exception:  # one failing handler must not stop the watch
            log.exception("mail watcher handler failed")

    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await deliver(getter.result())
                continue
            getter.cancel()
            break
    finally:
        stop.set()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({worker})
        while not queue.empty():  # reported by the server before the stop: hand them over, not drop them
            await deliver(queue.get_nowait())
    if worker.done() and worker.exception() is not None:
        raise worker.exception()  # type: ignore[misc]
