"""Test configurations built in code instead of copied YAML blocks.

    org = (Org().user("alice", email="alice@example.com")
           .scripted("script", call("notes.add", text="buy milk"), say("done"))
           .agent("keeper", model="script", autonomy="auto", toolsets={"notes": ["notes.add", "notes.list"]}))
    org.write(home)            # $MESHCLAW_HOME/meshclaw.yaml, as a person would write it
    runtime(home, org)         # tests.runtime_support accepts an Org wherever it takes YAML text

Each method returns a new ``Org``, so a base configuration can be varied per test without copying it:
``base.agent("keeper", autonomy="ask")`` replaces the agent named keeper. Only what a test names is
written; everything else keeps the product's defaults. Tests of the YAML reader itself (line numbers
in errors, ``config check``) keep their YAML text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml


def call(tool: str, **args: Any) -> dict[str, Any]:
    """A scripted model's turn that calls ``tool`` (dotted name) with ``args``."""
    return {"tool": tool, "args": args}


def say(text: str) -> dict[str, Any]:
    """A scripted model's turn that answers with ``text`` and ends the run."""
    return {"text": text}


def _put(items: tuple, key: Any, new: Any, key_of: Any) -> tuple:
    # Replace the item with this key where it stands, or append it.
    if any(key_of(i) == key for i in items):
        return tuple(new if key_of(i) == key else i for i in items)
    return items + (new,)


def _toolsets(toolsets: dict[str, Any]) -> dict[str, Any]:
    # {"notes": ["notes.add"]} is shorthand for {"notes": {"grants": ["notes.add"]}}; a dict is kept as given.
    return {name: {"grants": list(spec)} if isinstance(spec, (list, tuple)) else dict(spec)
            for name, spec in toolsets.items()}


@dataclass(frozen=True)
class Org:
    """One configuration file: organisation, users, models and agents, in the order they were added."""

    name: str | None = None
    domains: tuple[str, ...] = ()
    users: tuple[dict[str, Any], ...] = ()
    models: tuple[tuple[str, dict[str, Any]], ...] = ()
    agents: tuple[dict[str, Any], ...] = ()
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def organisation(self, name: str = "Example Corp", domains: tuple[str, ...] | list[str] = ("example.com",)) -> Org:
        """Add the ``organisation:`` block (its name and the mail domains counted as inside)."""
        return replace(self, name=name, domains=tuple(domains))

    def user(self, id: str, name: str | None = None, **fields: Any) -> Org:
        """Add (or replace) a user; ``name`` defaults to the id capitalised, e.g. ``alice`` → ``Alice``."""
        entry = {"id": id, "name": name or id.capitalize(), **fields}
        return replace(self, users=_put(self.users, id, entry, lambda u: u["id"]))

    def model(self, name: str, kind: str, **settings: Any) -> Org:
        """Add (or replace) a model entry, e.g. ``model("remote", "openai", model="m", base_url=...)``."""
        return replace(self, models=_put(self.models, name, (name, {"kind": kind, **settings}), lambda m: m[0]))

    def scripted(self, name: str, *turns: dict[str, Any], **settings: Any) -> Org:
        """Add a scripted model that plays ``turns`` (see ``call`` and ``say``) in order."""
        return self.model(name, "scripted", turns=list(turns), **settings)

    def agent(self, name: str, *, model: str | None = None, owner: str | None = None, instructions: str | None = None,
              toolsets: dict[str, Any] | None = None, **fields: Any) -> Org:
        """Add an agent, or change the fields given of the agent already called ``name``.

        A new agent's owner defaults to the first user, its model to the last model added, its
        instructions to ``Keep notes.``; ``toolsets`` takes ``{"notes": ["notes.add"]}`` shorthand.
        Other fields (``autonomy``, ``limits``, ``budget``, ``triggers``...) are written as given.
        """
        given = {k: v for k, v in (("model", model), ("owner", owner), ("instructions", instructions)) if v is not None}
        if toolsets is not None:
            given["toolsets"] = _toolsets(toolsets)
        given.update(fields)
        old = next((a for a in self.agents if a["name"] == name), None)
        if old is not None:
            entry = {**old, **given}
            return replace(self, agents=tuple(entry if a is old else a for a in self.agents))
        entry = {"name": name, "owner": self.users[0]["id"] if self.users else "alice", "instructions": "Keep notes.",
                 "model": self.models[-1][0] if self.models else "script", **given}
        return replace(self, agents=self.agents + (entry,))

    def local_user(self, user_id: str = "alice", login: str | None = None) -> Org:
        """Map ``login`` (default: the login running the tests) to ``user_id`` in ``local_users``, so
        commands act as that user (see tests/support/local_user.py)."""
        from tests.support.local_user import LOGIN

        current = dict(next((v for k, v in self.extra if k == "local_users"), {}))
        return self.set("local_users", {**current, login or LOGIN: user_id})

    def set(self, key: str, value: Any) -> Org:
        """Add (or replace) any other top-level section, e.g. ``set("reader", {...})``."""
        return replace(self, extra=_put(self.extra, key, (key, value), lambda e: e[0]))

    def data(self) -> dict[str, Any]:
        """The configuration as the dict a YAML file would hold."""
        out: dict[str, Any] = {}
        if self.name is not None:
            out["organisation"] = {"name": self.name, "domains": list(self.domains)}
        out["users"] = [dict(u) for u in self.users]
        out["models"] = {name: dict(spec) for name, spec in self.models}
        out["agents"] = [dict(a) for a in self.agents]
        out.update(dict(self.extra))
        return out

    def yaml(self) -> str:
        """The configuration as YAML text."""
        return yaml.safe_dump(self.data(), sort_keys=False, allow_unicode=True, width=1000)

    def write(self, home: Path, name: str = "meshclaw.yaml") -> Path:
        """Write the YAML to ``home/name`` (the default configuration file of that data dir); return its path."""
        path = Path(home) / name
        path.write_text(self.yaml(), encoding="utf-8")
        return path
