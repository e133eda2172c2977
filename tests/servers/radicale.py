"""A private Radicale 3.9 CalDAV server for tests: 127.0.0.1, random port, temp dir, seeded week.

Radicale runs as a subprocess (``python -m radicale``) so that stopping it is a signal, not a
thread we cannot join.  Users authenticate with a plain htpasswd file.  Rights mirror a small
company: everyone reads and writes their own calendars, and may query the free/busy time (only)
of colleagues' calendars, so a free/busy request works and reading the details is refused.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import caldav

from meshclaw.connectors.calendar import seed

CALENDAR_ID = "work"
CALENDAR_NAME = "Work"
PRIVATE_ID = "private"  # every user also has one, shared with nobody

# First matching section wins (Radicale from_file rights).  "f" is free/busy only.
RIGHTS = """\
[root]
user: .+
collection:
permissions: R

[own-principal]
user: .+
collection: {user}
permissions: RW

[own-calendars]
user: .+
collection: {user}/[^/]+
permissions: rw

# A calendar named "private" is not shared at all, not even its free/busy time.
[colleagues-private]
user: .+
collection: [^/]+/private
permissions:

[colleagues-freebusy]
user: .+
collection: [^/]+/[^/]+
permissions: f
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def this_monday(today: date | None = None) -> date:
    today = today or date.today()
    return today - timedelta(days=today.weekday())


@dataclass
class RadicaleServer:
    """A running server: ``url`` is the CalDAV root; ``users`` maps user id to password."""

    root: Path
    port: int
    users: dict[str, str]
    monday: date
    tz: str
    domain: str = "example.com"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def calendar_url(self, user: str, calendar: str = CALENDAR_ID) -> str:
        return f"{self.url}{user}/{calendar}/"

    def client(self, user: str) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.url, username=user, password=self.users[user])

    def calendar(self, user: str, calendar: str = CALENDAR_ID) -> caldav.Calendar:
        return self.client(user).calendar(url=self.calendar_url(user, calendar))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "RadicaleServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_config(root: Path, port: int, users: dict[str, str]) -> Path:
    (root / "users").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    (root / "users").chmod(0o600)
    (root / "rights").write_text(RIGHTS)
    config = root / "config"
    config.write_text(f"""\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {root / 'users'}
htpasswd_encryption = plain
# Tests check the wrong-password path; the default 1 s penalty only slows them down.
delay = 0

[rights]
type = from_file
file = {root / 'rights'}

[storage]
filesystem_folder = {root / 'collections'}

[web]
type = none

[logging]
level = warning
mask_passwords = True
""")
    return config


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"radicale exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (401, 404) means it is serving
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"radicale did not answer on {url} within {timeout} s: {log.read_text()[-2000:]}")


def seed_calendars(server: RadicaleServer) -> None:
    """Create every user's calendar over CalDAV and fill it with the week of meetings."""
    per_user = seed.calendars(server.monday, tuple(server.users), tz=server.tz, domain=server.domain)
    for user, objects in per_user.items():
        principal = server.client(user).principal()
        cal = principal.make_calendar(name=CALENDAR_NAME, cal_id=CALENDAR_ID)
        for ics in objects:
            # Stored verbatim: the seed's SEQUENCE is what the participants agreed on.
            cal.add_event(ics, increase_seqno=False)
        principal.make_calendar(name="Private", cal_id=PRIVATE_ID)


def start_radicale(
    users: tuple[str, ...] = seed.USERS,
    monday: date | None = None,
    tz: str = "Europe/Berlin",
    seeded: bool = True,
    timeout: float = 15.0,
) -> RadicaleServer:
    """Start Radicale with ``users`` (random passwords) and, if ``seeded``, a week of meetings."""
    root = Path(tempfile.mkdtemp(prefix="meshclaw-radicale-"))
    passwords = {u: secrets.token_urlsafe(12) for u in users}
    port = free_port()
    config = _write_config(root, port, passwords)
    log = root / "radicale.log"
    server = RadicaleServer(root=root, port=port, users=passwords, monday=monday or this_monday(), tz=tz)
    with log.open("wb") as out:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_ready(server.url, server.process, log, timeout)
        if seeded:
            seed_calendars(server)
    except BaseException:
        server.stop()
        raise
    return server


if __name__ == "__main__":  # manual check: python tests/servers/radicale.py
    started = time.monotonic()
    with start_radicale() as s:
        print(f"ready and seeded in {time.monotonic() - started:.2f} s at {s.url} (users: {', '.join(s.users)})")
        print(len(s.calendar("alice").search(event=True)), "objects in alice's calendar")
