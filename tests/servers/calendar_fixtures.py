"""pytest fixtures for the calendar connector: a seeded Radicale, real mail, and tool contexts.

Import the ones a test module needs (``from tests.servers.calendar_fixtures import ...``):

radicale_server (module)   RadicaleServer: alice/bob/carol, this week's meetings, on a random loopback port
calendar_ctx    (function) make(user="alice", call="t1", mail=None, run="run-1", **settings) -> RunContext
calendar_mail   (function) the mail fixture's servers (Postfix + Dovecot, emptied), skipped without SMTP

Radicale is module-scoped: a module that changes calendars cannot disturb another's seed.
"""

from __future__ import annotations

import imaplib
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from pydantic_ai import RunContext
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from meshclaw.domain.config import Agent, Config, ToolsetGrant, User
from meshclaw.domain.secrets import Secrets
from meshclaw.runtime.context import RunDeps
from meshclaw.runtime.tool_context import ToolContext, tool_context
from tests.servers.fixtures import mail, mail_servers  # noqa: F401 - calendar_mail builds on them
from tests.servers.radicale import RadicaleServer, start_radicale

DOMAIN = "example.com"


@pytest.fixture(scope="module")
def radicale_server() -> Iterator[RadicaleServer]:
    """Radicale on 127.0.0.1 with alice, bob, carol and this week's meetings (Europe/Berlin)."""
    with start_radicale() as server:
        yield server


@pytest.fixture
def calendar_mail(mail: Any) -> Any:
    """The mail fixture's Postfix + Dovecot (tests/servers/fixtures.py), mailboxes emptied, SMTP required.

    A test module using it imports ``mail`` and ``mail_servers`` too (they are re-exported here).
    """
    if mail.smtp_port is None:
        pytest.skip("the invitation tests need Postfix, which runs only as root (scripts/install-test-services.sh)")
    return mail


def calendar_settings(server: RadicaleServer, user: str, mail: Any | None = None, **overrides: Any) -> dict[str, Any]:
    """A ``calendar`` toolset's settings for ``user``, passwords as references into the secrets file."""
    settings: dict[str, Any] = {
        "url": server.url, "username": user, "password": f"secret:{user}_cal",
        "calendar": "work", "timezone": server.tz,
    }
    if mail is not None:
        settings |= {"smtp_host": mail.host, "smtp_port": mail.smtp_port, "smtp_security": "plain",
                     "smtp_username": f"{user}@{DOMAIN}", "smtp_password": f"secret:{user}_smtp"}
    return settings | overrides


def write_secrets(path: Path, server: RadicaleServer, mail: Any | None = None) -> Secrets:
    lines = [f"{u}_cal={p}" for u, p in server.users.items()]
    if mail is not None:
        lines += [f"{a.partition('@')[0]}_smtp={p}" for a, p in mail.passwords.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return Secrets(path)


@pytest.fixture
def calendar_ctx(radicale_server: RadicaleServer, tmp_path: Path) -> Callable[..., RunContext[ToolContext]]:
    """A factory of tool contexts: ``calendar_ctx(user="alice", call="t1", mail=None, **settings)``.

    ``run`` and ``call`` make the idempotency key: the same pair is the same tool call replayed.
    """

    def make(user: str = "alice", call: str = "t1", mail: Any | None = None, run: str = "run-1",
             **overrides: Any) -> RunContext[ToolContext]:
        secrets = write_secrets(tmp_path / "secrets", radicale_server, mail)
        users = [User(id=u, name=u.capitalize(), email=f"{u}@{DOMAIN}", manager="bob" if u != "bob" else None)
                 for u in radicale_server.users]
        settings = calendar_settings(radicale_server, user, mail, **overrides)
        agent = Agent(name=f"{user}-assistant", owner=user, instructions="Help with the calendar.", model="test",
                      toolsets={"calendar": ToolsetGrant(settings=settings)})
        config = Config(users=users, agents=[agent])
        owner = next(u for u in users if u.id == user)
        deps = RunDeps(run_id=run, agent=agent, owner=owner, config=config, store=None, secrets=secrets)  # type: ignore[arg-type]
        return RunContext(deps=tool_context(deps, "calendar"), model=TestModel(), usage=RunUsage(), tool_call_id=call)

    return make


def imap_messages(mail: Any, user: str, needle: str, timeout: float = 10.0, at_least: int = 1) -> list[bytes]:
    """Raw messages in ``user``'s INBOX whose text contains ``needle``, polling until ``at_least`` arrive."""
    deadline = time.monotonic() + timeout
    found: list[bytes] = []
    while True:
        with imaplib.IMAP4(mail.host, mail.imap_port, timeout=10) as imap:
            imap.login(user, mail.password(user))
            imap.select("INBOX", readonly=True)
            _, data = imap.search(None, "TEXT", f'"{needle}"')
            found = []
            for num in data[0].split():
                _, parts = imap.fetch(num, "(RFC822)")
                found.append(parts[0][1])
            imap.logout()
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
