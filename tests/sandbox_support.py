"""A sandbox workplace in a private store, and tool contexts on it, for the sandbox tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshclaw.store.facade import Store

ALICE, BOB = "alice@example.com", "bob@example.com"


def sandbox_store(home: Path, *, seed_mail: bool = True) -> Store:
    """A store holding workplace ``demo`` for alice, bob and carol; alice's INBOX and Sent seeded."""
    from meshclaw.connectors.email.seed import date_of, seed_messages, sent_messages

    store = Store(home)
    store.workplaces.create("demo", ["alice", "bob", "carol"], fresh=True)
    if seed_mail:
        for raw in seed_messages():
            store.workplaces.append("demo", "alice", "INBOX", raw, [], date_of(raw))
        for raw in sent_messages():
            store.workplaces.append("demo", "alice", "Sent", raw, ["\\Seen"], date_of(raw))
    return store


def sandbox_ctx(store: Store, toolset: str, settings: dict[str, Any], *, user: str = "alice",
                tool_call_id: str | None = "t1", run_id: str = "run-1") -> Any:
    """A tool's RunContext as the guard pipeline builds it, with the store (for the workplace state)."""
    from pydantic_ai import RunContext
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.usage import RunUsage

    from meshclaw.domain.config import Agent, Config, Organisation, ScriptedModel, ToolsetGrant, User
    from meshclaw.domain.secrets import Secrets
    from meshclaw.runtime.context import RunDeps
    from meshclaw.runtime.tool_context import tool_context

    users = [User(id="alice", name="Alice Example", email=ALICE, manager="bob", timezone="Europe/Berlin"),
             User(id="bob", name="Bob Manager", email=BOB, roles=["employee", "manager"], timezone="Europe/Berlin"),
             User(id="carol", name="Carol SRE", email="carol@example.com", manager="bob", timezone="Europe/Berlin")]
    owner = next(u for u in users if u.id == user)
    agent = Agent(name="sandboxed", owner=user, instructions="Work in the sandbox.", model="script",
                  toolsets={toolset: ToolsetGrant(settings=settings)})
    config = Config(organisation=Organisation(name="Example", domains=["example.com"]), users=users, agents=[agent],
                    models={"script": ScriptedModel(kind="scripted", turns=[{"text": "done"}])})
    secrets_file = store.home / "secrets.env"
    if not secrets_file.exists():
        secrets_file.write_text("")
        secrets_file.chmod(0o600)
    deps = RunDeps(run_id=run_id, agent=agent, owner=owner, config=config, store=store,  # type: ignore[arg-type]
                   secrets=Secrets(secrets_file))
    return RunContext(deps=tool_context(deps, toolset), model=TestModel(), usage=RunUsage(), tool_call_id=tool_call_id)


MAIL = {"backend": "sandbox", "workplace": "demo", "address": ALICE}
