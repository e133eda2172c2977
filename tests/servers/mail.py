"""A private Dovecot (IMAP + LMTP) and Postfix (SMTP with auth) on random loopback ports.

pytest-independent so the benchmark and the demo can use it too.  Everything lives in one temp
directory: configs, maildirs, queue, logs.  Nothing listens on anything but 127.0.0.1, and Postfix
hands every non-local recipient to the ``error`` transport, so no mail can leave the machine.

    with MailServers.start() as mail:
        mail.deliver(raw_bytes, "alice@example.com")
        ... connect to 127.0.0.1:mail.imap_port as alice@example.com / mail.password("alice@example.com")
"""

from __future__ import annotations

import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.mail_config import dovecot_conf, postfix_main, postfix_master

DEFAULT_USERS = ("alice@example.com", "bob@example.com", "carol@example.com")


class MailServerError(RuntimeError):
    """A fixture server could not start: the message carries the tail of its log."""


def free_port() -> int:
    # The kernel picks a free port; the tiny window before the server binds it is acceptable in tests
    # (start() retries once on a bind failure).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postfix_available() -> bool:
    """Postfix can only run as root (its master drops privileges to the postfix user)."""
    return os.geteuid() == 0 and shutil.which("postfix") is not None


def dovecot_available() -> bool:
    return shutil.which("dovecot") is not None


def _wait_for_banner(port: int, prefix: bytes, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(256).startswith(prefix):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise MailServerError(f"no {prefix.decode()} banner on 127.0.0.1:{port} after {timeout}s; log:\n{tail}")


@dataclass
class MailServers:
    """Running fixture servers: ports, users and their passwords, seeding helpers, stop()."""

    root: Path
    imap_port: int
    lmtp_port: int
    smtp_port: int | None  # None when Postfix is not available (not root)
    passwords: dict[str, str]
    imaps_port: int | None = None  # IMAP with implicit TLS; the plain port also offers STARTTLS
    smtps_port: int | None = None  # SMTP with implicit TLS; the plain port also offers STARTTLS
    ca_file: Path | None = None  # the self-signed certificate clients must trust for TLS
    _dovecot: subprocess.Popen | None = None
    _postfix_conf: Path | None = None
    _stopped: bool = field(default=False)
    imap_capability: str | None = None

    host = "127.0.0.1"

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(cls, users: tuple[str, ...] = DEFAULT_USERS, *, smtp: bool = True,
              imap_capability: str | None = None) -> "MailServers":
        """Start Dovecot, then Postfix in front of it if ``smtp`` and we are root. Takes about 1-3 s.

        ``imap_capability``: the CAPABILITY list Dovecot announces instead of its own (e.g. without
        MOVE and IDLE, as older or smaller servers do)."""
        if not dovecot_available():
            raise MailServerError("dovecot is not installed: run scripts/install-test-services.sh")
        root = Path(tempfile.mkdtemp(prefix="mc-mail-"))
        # Dovecot's mail processes and Postfix's smtpd run as unprivileged users: they must be able
        # to traverse the temp dir (the files inside hold only throwaway test passwords).
        root.chmod(0o755)
        # Deterministic per-user passwords: readable in test failures without being real secrets.
        passwords = {u: f"pw-{u.split('@')[0]}-{os.getpid()}" for u in users}
        servers = cls(root, 0, 0, None, passwords)
        servers.imap_capability = imap_capability
        try:
            servers._make_certificate()
            servers._start_dovecot()
            if smtp and postfix_available():
                servers._start_postfix()
        except BaseException:
            servers.stop()
            raise
        return servers

    def __enter__(self) -> "MailServers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop both servers and remove the temp dir. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._postfix_conf is not None:
            subprocess.run(["postfix", "-c", str(self._postfix_conf), "stop"], capture_output=True, timeout=30)
            self._wait_postfix_gone()
        if self._dovecot is not None and self._dovecot.poll() is None:
            self._dovecot.terminate()
            try:
                self._dovecot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._dovecot.kill()
                self._dovecot.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_postfix_gone(self) -> None:
        # "postfix stop" returns before the master has exited; removing its queue under it would
        # leave it logging errors, so wait for the pid file's process to go.
        pid_file = self.root / "postfix" / "queue" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    # --- TLS -------------------------------------------------------------------------------

    def _make_certificate(self) -> None:
        """A throwaway self-signed certificate for 127.0.0.1, so TLS and STARTTLS are tested for real."""
        if shutil.which("openssl") is None:
            return  # TLS tests skip; everything else runs in plain text on loopback
        tls = self.root / "tls"
        tls.mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(tls / "key.pem"), "-out", str(tls / "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=30,
        )
        (tls / "key.pem").chmod(0o600)
        self.ca_file = tls / "cert.pem"

    # --- Dovecot ---------------------------------------------------------------------------

    def _start_dovecot(self) -> None:
        d = self.root / "dovecot"
        (d / "run").mkdir(parents=True)
        (d / "state").mkdir()
        mail = self.root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            # Dovecot refuses to deliver mail as root: use the system "mail" user for the maildirs.
            mail_user = pwd.getpwnam("mail")
            internal, login = "dovecot", "dovenull"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            internal = login = mail_user.pw_name
        os.chown(mail, mail_user.pw_uid, mail_user.pw_gid)
        users_file = d / "users"
        users_file.write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.passwords.items()))
        # Read by the auth process, which runs as the internal user; nobody else needs it.
        os.chown(users_file, -1, pwd.getpwnam(internal).pw_gid)
        users_file.chmod(0o640)
        for attempt in range(2):
            self.imap_port, self.lmtp_port = free_port(), free_port()
            self.imaps_port = free_port() if self.ca_file else None
            conf = d / "dovecot.conf"
            conf.write_text(dovecot_conf(d, mail, users_file, mail_user, internal, login, self.imap_port,
                                         self.lmtp_port, root=os.geteuid() == 0,
                                         tls_dir=self.ca_file.parent if self.ca_file else None,
                                         imaps_port=self.imaps_port, imap_capability=self.imap_capability))
            log = d / "dovecot.log"
            self._dovecot = subprocess.Popen(
                ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=open(log, "ab")
            )
            try:
                _wait_for_banner(self.imap_port, b"* OK", 10, log)
                _wait_for_banner(self.lmtp_port, b"220", 10, log)
                return
            except MailServerError:
                self._dovecot.terminate()
                self._dovecot.wait(timeout=10)
                if attempt == 1:
                    raise

    # --- Postfix ---------------------------------------------------------------------------

    def _start_postfix(self) -> None:
        p = self.root / "postfix"
        conf_dir = p / "conf"
        conf_dir.mkdir(parents=True)
        (p / "queue").mkdir()
        (p / "data").mkdir()
        os.chown(p / "data", pwd.getpwnam("postfix").pw_uid, -1)
        (conf_dir / "vmailbox").write_text("".join(f"{u} ok\n" for u in self.passwords))
        self.smtp_port = free_port()
        self.smtps_port = free_port() if self.ca_file else None
        main = postfix_main(p, self.root, self.lmtp_port)
        if self.ca_file:
            tls = self.ca_file.parent
            # "may": STARTTLS offered, not required, so the plain-text tests keep working.
            main = main.replace("smtpd_tls_security_level = none", "smtpd_tls_security_level = may") + (
                f"smtpd_tls_cert_file = {tls}/cert.pem\nsmtpd_tls_key_file = {tls}/key.pem\n"
            )
        (conf_dir / "main.cf").write_text(main)
        (conf_dir / "master.cf").write_text(postfix_master(self.smtp_port, self.smtps_port))
        run = subprocess.run(["postfix", "-c", str(conf_dir), "start"], capture_output=True, text=True, timeout=60)
        log = p / "maillog"
        if run.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise MailServerError(f"postfix start failed ({run.returncode}): {run.stderr.strip()}\n{tail}")
        self._postfix_conf = conf_dir
        _wait_for_banner(self.smtp_port, b"220", 15, log)

    # --- seeding and inspection ------------------------------------------------------------

    def password(self, user: str) -> str:
        return self.passwords[user]

    def deliver(self, raw: bytes, to: str | list[str], sender: str = "seed@localhost") -> None:
        """Deliver one message through Dovecot's LMTP, as an MTA would: it lands unread in INBOX."""
        self.deliver_many([raw], to, sender)

    def deliver_many(self, messages: list[bytes], to: str | list[str], sender: str = "seed@localhost") -> None:
        """Deliver many messages over one LMTP session (fast enough for 1,000 in a few seconds)."""
        rcpts = [to] if isinstance(to, str) else list(to)
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=30) as lmtp:
            for raw in messages:
                refused = lmtp.sendmail(sender, rcpts, raw)
                if refused:
                    raise MailServerError(f"LMTP refused {refused}")

    def append(self, user: str, folder: str, raw: bytes, flags: str = "") -> None:
        """Put a message straight into a folder (Sent, Drafts...) over IMAP APPEND."""
        import imaplib

        with imaplib.IMAP4(self.host, self.imap_port, timeout=30) as imap:
            imap.login(user, self.passwords[user])
            typ, data = imap.append(folder, f"({flags})" if flags else None, None, raw)
            if typ != "OK":
                raise MailServerError(f"APPEND to {folder} failed: {data}")
            imap.logout()

    def reset(self) -> None:
        """Give every user a brand-new mailbox (UIDs from 1 again), so tests start alike.

        Removing the maildir while Dovecot runs is fine between sessions: it recreates the folders
        (and their indexes, which live inside the maildir) at the next login or delivery.
        """
        for user in self.passwords:
            shutil.rmtree(self.root / "mail" / user, ignore_errors=True)

    def messages(self, user: str, folder: str = "INBOX") -> list[tuple[bytes, bytes]]:
        """(flags, raw message) of every message in a folder, read without setting \\Seen: for asserts."""
        import imaplib

        out = []
        with imaplib.IMAP4(self.host, self.imap_port, timeout=30) as imap:
            imap.login(user, self.passwords[user])
            imap.select(folder, readonly=True)
            _, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[])") if imap.search(None, "ALL")[1][0] else ("OK", [])
            for item in data:
                if isinstance(item, tuple):
                    flags = item[0].split(b"FLAGS (", 1)[1].split(b")", 1)[0]
                    out.append((flags, item[1]))
            imap.logout()
        return out

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user / "Maildir"

    def log(self) -> str:
        """Both servers' logs, for test failure messages."""
        parts = []
        for f in (self.root / "dovecot" / "dovecot.log", self.root / "postfix" / "maillog"):
            if f.exists():
                parts.append(f"== {f.name}\n" + f.read_text(errors="replace")[-4000:])
        return "\n".join(parts)
