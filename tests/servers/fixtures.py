"""pytest fixtures for the mail servers. Import them into a test module (or the shared conftest):

    from tests.servers.fixtures import *  # noqa: F401,F403

mail_servers   (session)  MailServers: Dovecot + Postfix on random loopback ports, started once
mail           (function) the same servers with every mailbox emptied first
seeded_mail    (function) ``mail`` with the seed set in alice's INBOX and her sent mail in Sent
alice_settings (function) EmailSettings for alice@example.com on those servers (plain: loopback)
basic_mail     (function) other servers that announce neither MOVE nor IDLE (UIDPLUS yes), emptied
minimal_mail   (function) servers announcing neither MOVE, IDLE nor UIDPLUS, emptied
mail_ctx       (function) make_ctx(user="alice@example.com", tool_call_id="t1", run_id="run-1",
                          secret_value=None, **settings_overrides)
                          -> a pydantic-ai RunContext whose deps resolve "secret:mail_pw" to the password
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.servers.mail import MailServers, dovecot_available

__all__ = ["shared_mail_servers", "mail_servers", "mail", "seeded_mail", "alice_settings", "mail_ctx", "email_settings_for",
           "make_run_context", "basic_mail", "minimal_mail"]

ALICE = "alice@example.com"


_shared: MailServers | None = None


def shared_mail_servers() -> MailServers:
    """One set of servers per test process, however many modules import these fixtures (each
    import would otherwise make its own "session" fixture and start the servers again)."""
    global _shared
    if _shared is None:
        _shared = MailServers.start()
        atexit.register(_shared.stop)
    return _shared


# Capability lists of smaller servers: Dovecot's own minus MOVE and IDLE, and minus UIDPLUS too.
BASIC_CAPABILITY = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED SPECIAL-USE"
MINIMAL_CAPABILITY = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE CHILDREN NAMESPACE LIST-EXTENDED SPECIAL-USE"
_variants: dict[str, MailServers] = {}


def _variant(capability: str, smtp: bool) -> MailServers:
    if not dovecot_available():
        pytest.skip("dovecot is not installed: run scripts/install-test-services.sh")
    if capability not in _variants:
        _variants[capability] = MailServers.start(smtp=smtp, imap_capability=capability)
        atexit.register(_variants[capability].stop)
    servers = _variants[capability]
    servers.reset()
    return servers


@pytest.fixture
def basic_mail() -> MailServers:
    return _variant(BASIC_CAPABILITY, smtp=True)


@pytest.fixture
def minimal_mail() -> MailServers:
    return _variant(MINIMAL_CAPABILITY, smtp=True)


@pytest.fixture(scope="session")
def mail_servers() -> MailServers:
    if not dovecot_available():
        pytest.skip("dovecot is not installed: run scripts/install-test-services.sh")
    return shared_mail_servers()


@pytest.fixture
def mail(mail_servers: MailServers) -> MailServers:
    mail_servers.reset()
    return mail_servers


@pytest.fixture
def seeded_mail(mail: MailServers) -> MailServers:
    from meshclaw.connectors.email.seed import seed_messages, sent_messages

    mail.deliver_many(seed_messages(), ALICE)
    for raw in sent_messages():
        mail.append(ALICE, "Sent", raw, "\\Seen")
    return mail


def email_settings_for(servers: MailServers, user: str = ALICE, **overrides: Any) -> dict[str, Any]:
    """The settings dict an agent config would carry for ``user`` on the fixture servers."""
    settings = {
        "imap_host": "127.0.0.1",
        "imap_port": servers.imap_port,
        "smtp_port": servers.smtp_port,
        "username": user,
        "password": "secret:mail_pw",
        "security": "plain",
        "address": user,
        "timeout": 10,
    }
    settings.update(overrides)
    return settings


@pytest.fixture
def alice_settings(mail: MailServers):
    from meshclaw.connectors.email import EmailSettings

    return EmailSettings.model_validate(email_settings_for(mail))


def make_run_context(settings: dict[str, Any], password: str, secrets_dir: Path, *, tool_call_id: str | None = "t1",
                     run_id: str = "run-1", owner_email: str = ALICE) -> Any:
    """A tool's RunContext as the runtime would build it, with the minimum of domain objects (no store)."""
    from pydantic_ai import RunContext
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.usage import RunUsage

    from meshclaw.domain.config import Agent, Config, ScriptedModel, ToolsetGrant, User
    from meshclaw.domain.secrets import Secrets
    from meshclaw.runtime.context import RunDeps
    from meshclaw.runtime.tool_context import tool_context

    secrets_file = secrets_dir / "secrets.env"
    secrets_file.write_text(f"mail_pw={password}\n")
    secrets_file.chmod(0o600)
    owner = User(id="alice", name="Alice Example", email=owner_email, manager="bob")
    boss = User(id="bob", name="Bob Manager", email="bob@example.com", roles=["employee", "manager"])
    agent = Agent(name="mailer", owner="alice", instructions="Triage Alice's mail.", model="script",
                  toolsets={"email": ToolsetGrant(settings=settings)})
    config = Config(users=[owner, boss], agents=[agent],
                    models={"script": ScriptedModel(kind="scripted", turns=[{"text": "done"}])})
    deps = RunDeps(run_id=run_id, agent=agent, owner=owner, config=config, store=None,  # type: ignore[arg-type]
                   secrets=Secrets(secrets_file))
    # What a tool receives is the narrow context the guard pipeline builds from the run's deps.
    return RunContext(deps=tool_context(deps, "email"), model=TestModel(), usage=RunUsage(), tool_call_id=tool_call_id)


@pytest.fixture
def mail_ctx(mail: MailServers, tmp_path: Path) -> Callable[..., Any]:
    def make(user: str = ALICE, *, tool_call_id: str | None = "t1", run_id: str = "run-1",
             secret_value: str | None = None, **overrides: Any) -> Any:
        # secret_value: what "secret:mail_pw" resolves to (default: the user's real password);
        # overrides: settings fields, e.g. imap_port=<a proxy's port>.
        settings = email_settings_for(mail, user, **overrides)
        return make_run_context(settings, secret_value or mail.password(user), tmp_path, tool_call_id=tool_call_id,
                                run_id=run_id, owner_email=user)

    return make
