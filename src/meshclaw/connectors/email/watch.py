"""Watching a mail folder for new messages, for triggers: IMAP IDLE, polling where IDLE is missing.

New means a UID above the highest one seen: it does not depend on \\Recent or \\Seen, so a message
read elsewhere meanwhile is still reported once, and nothing is marked read (the folder is opened
read-only). After a dropped connection the watcher reconnects with backoff and reports what arrived
in between; only a refused login or a folder missing from the start ends it, since retrying cannot
fix those. A folder that disappears while watched (deleted to be recreated) is waited for.

UIDs only mean something together with the folder's UIDVALIDITY (RFC 3501 2.3.1.1). When it changes
(the folder was deleted and recreated, or the server rebuilt its index) every UID is new, so the
watcher resynchronises by arrival date and Message-ID: a message is new if it arrived (INTERNALDATE)
no earlier than the newest one already known and its Message-ID was not reported before. Dovecot
does not tell an IDLE session that its folder was replaced, so the watcher also checks the folder's
UIDVALIDITY (STATUS) every VERIFY_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import select
import ssl
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Callable

from imap_tools.utils import encode_folder

from meshclaw.domain.provenance import Labelled

from .client import MailClient
from .errors import MailAuthError, MailError, MailNotFound
from .labels import message_label
from .reading import summarize
from .settings import EmailSettings

log = logging.getLogger(__name__)

IDLE_RESTART = 20 * 60  # re-issue IDLE well before servers drop idle clients (RFC 2177: 29 minutes)
VERIFY_EVERY = 30.0  # seconds between checks that the watched folder is still the same one
MAX_BACKOFF = 60.0
SEEN_KEPT = 5000  # Message-IDs of reported messages remembered for resynchronising


class _Renumbered(MailError):
    """The watched folder's UIDVALIDITY changed under an open session."""


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
        self.newest: datetime | None = None  # latest arrival (INTERNALDATE) of a known message
        self.seen: OrderedDict[str, None] = OrderedDict()  # keys of reported messages, oldest first

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                with MailClient(self.settings, self._password) as client:
                    self._watch(client)
                    return
            except _Renumbered as e:
                log.warning("mail watcher for %s: %s; resynchronising", self.folder, e)
                backoff = 1.0
            except MailNotFound as e:
                if self.uidvalidity is None:
                    raise  # a folder that was never there: retrying cannot fix the name
                log.warning("mail watcher for %s: %s; waiting for it to come back", self.folder, e)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except MailAuthError:
                raise  # retrying cannot fix a wrong password
            except MailError as e:
                log.warning("mail watcher for %s: %s; reconnecting in %.0fs", self.folder, e, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _watch(self, client: MailClient) -> None:
        status = client.select(self.folder)  # read-only: watching never changes a flag
        if self.uidvalidity is None:
            self._baseline(client, status["UIDVALIDITY"])  # first start: only mail from now on is new
        elif status["UIDVALIDITY"] != self.uidvalidity:
            self._resync(client, status["UIDVALIDITY"])
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
                self._verify(client)
                self._check(client)

    def _verify(self, client: MailClient) -> None:
        """Raise _Renumbered if the folder's UIDVALIDITY changed, MailNotFound if it is gone."""
        with client.guarded(f"checking the watched folder {self.folder!r}"):
            typ, data = client.box.client.status(encode_folder(self.folder), "(UIDVALIDITY)")
        if typ != "OK":
            # Some servers refuse STATUS on the selected folder (RFC 3501 6.3.10 discourages it):
            # only a folder missing from the list is gone.
            if self.folder not in client.folders():
                raise MailNotFound(f"the watched folder {self.folder!r} is gone")
            return
        text = b" ".join(d for d in data if isinstance(d, bytes))
        m = re.search(rb"UIDVALIDITY (\d+)", text)
        if m and int(m.group(1)) != self.uidvalidity:
            raise _Renumbered(f"the folder was renumbered (UIDVALIDITY {self.uidvalidity} -> {int(m.group(1))})")

    def _idle_once(self, client: MailClient) -> None:
        """Stay in IDLE until the server says anything, the stop flag is set, or it is time to renew."""
        imap = client.box.client
        with client.guarded("waiting for new mail (IDLE)"):
            client.box.idle.start()
            # Mail that arrived just before IDLE may already be announced: either parsed while
            # reading the "+ idling" reply, or sitting in imaplib's read buffer, where select() on
            # the socket cannot see it.
            announced = imap.untagged_responses.pop("EXISTS", None)
            deadline = time.monotonic() + min(IDLE_RESTART, VERIFY_EVERY)
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
            self._report(item)
        self.last_uid = max(uids)

    def _report(self, item: dict[str, Any]) -> None:
        s = summarize(item)
        self._remember(item)
        value = {"folder": self.folder, **s.brief(), "uidvalidity": self.uidvalidity}
        self.emit(Labelled(value, message_label(self.settings, self.folder, s.sender, s.flags)))

    def _remember(self, item: dict[str, Any]) -> None:
        self.seen[_key(item)] = None
        while len(self.seen) > SEEN_KEPT:
            self.seen.popitem(last=False)
        arrived = _arrival(item)
        if arrived and (self.newest is None or arrived > self.newest):
            self.newest = arrived

    def _baseline(self, client: MailClient, uidvalidity: int) -> None:
        """Start from the folder as it is: the newest messages' arrival and ids are remembered.
        Nothing is kept unless all of it worked, so a broken connection means starting again."""
        uids = client.search("ALL")
        recent = client.headers(uids[-20:]) if uids else []
        for item in recent:
            self._remember(item)
        if self.newest is None:  # an empty folder: anything arriving from now on is new
            self.newest = datetime.now().astimezone().replace(microsecond=0)
        self.last_uid, self.uidvalidity = (max(uids) if uids else 0), uidvalidity

    def _resync(self, client: MailClient, uidvalidity: int) -> None:
        """After a UIDVALIDITY change: report what arrived since the newest known message and was
        not reported already (by Message-ID); older messages (restored, copied back) are not new.
        Everything is fetched before anything is reported, so a resync cut short reports nothing
        and is simply done again."""
        assert self.newest is not None
        since = (self.newest - timedelta(days=1)).strftime("%d-%b-%Y")  # SEARCH SINCE is by day
        uids = client.search(f"SINCE {since}")
        fresh = [i for i in client.headers(uids) if _key(i) not in self.seen and (_arrival(i) or self.newest) >= self.newest]
        every = client.search("ALL")
        self.last_uid, self.uidvalidity = (max(every) if every else 0), uidvalidity
        for item in sorted(fresh, key=lambda i: int(i["UID"])):  # no server round trip from here on
            self._report(item)
        log.warning("mail watcher for %s: folder renumbered; %d new message(s) found by arrival date and Message-ID",
                    self.folder, len(fresh))


def _arrival(item: dict[str, Any]) -> datetime | None:
    value = item.get("INTERNALDATE")
    text = value.decode() if isinstance(value, bytes) else str(value or "")
    try:
        return datetime.strptime(text, "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


def _key(item: dict[str, Any]) -> str:
    """What identifies a message across renumbering: its Message-ID, else arrival, size and subject."""
    s = summarize(item)
    return s.message_id or f"{item.get('INTERNALDATE')}|{s.size}|{s.sender}|{s.subject}"


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
