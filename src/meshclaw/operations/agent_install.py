"""Installing a flagship agent for an employee: ``meshclaw agents add inbox-triage --owner alice``.

The agent's connections (mail server, calendar...) are the owner's existing ones, copied from an
agent the owner already has (or the one named by ``settings_from``): installing never asks for or
moves a password, it reuses the owner's secret references. The configuration file is edited with a
round-trip YAML parser (comments and order kept), the result is validated as a whole before it
replaces the file, and nothing is written when anything is wrong.

Who may: the owner, one of the owner's delegates, or an admin; every attempt is audited.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from meshclaw.agents.catalog import Template, template
from meshclaw.domain.errors import ConfigurationError, NotAuthorized, NotFound, UsageError

from .actor import Actor
from .context import Context
from .journal import REFUSED, record


@dataclass(frozen=True)
class Installed:
    """The agent written to the configuration, and what it may do in plain words."""

    name: str
    template: str
    owner: str
    lines: list[str]
    copied_from: dict[str, str]  # connector -> agent whose settings were reused


def _may_install(ctx: Context, actor: Actor, owner: str) -> None:
    user = next((u for u in ctx.config.users if u.id == owner), None)
    if user is None:
        raise NotFound(f"no user {owner!r} in the configuration")
    if actor.is_admin or actor.user_id == owner or actor.user_id in user.delegates:
        return
    reason = f"{actor.user_id} may not install agents for {owner}: only {owner}, a delegate or an admin may"
    record(ctx, actor, "agents.add", verdict=REFUSED, owner=owner, reason=reason)
    raise NotAuthorized(reason)


def _settings(ctx: Context, t: Template, owner: str, settings_from: str | None) -> tuple[dict[str, Any], dict[str, str], str | None]:
    """Each needed connector's settings from the owner's agents; the model one of them uses."""
    mine = [a for a in ctx.config.agents if a.owner == owner]
    if settings_from is not None:
        mine = [a for a in mine if a.name == settings_from]
        if not mine:
            raise NotFound(f"{owner} has no agent {settings_from!r} to copy connections from")
    found: dict[str, Any] = {}
    source: dict[str, str] = {}
    model = None
    for connector in list(t.needs) + list(t.optional):
        for a in mine:
            grant = a.toolsets.get(connector)
            if grant is not None and grant.settings:
                found[connector] = grant.settings
                source[connector] = a.name
                model = model or a.model
                break
    from meshclaw.domain.config import ToolsetGrant
    from meshclaw.domain.connector import connector_for

    for connector in t.needs:
        declared = connector_for(connector, ToolsetGrant())
        fields = declared.settings.model_fields if declared.settings is not None else {}
        if connector not in found and any(f.is_required() for f in fields.values()):
            raise ConfigurationError(
                f"{owner} has no {connector} connection to reuse: give one of their agents "
                f"toolsets.{connector}.settings in the configuration first (see `meshclaw init --help` and the "
                f"README's 'Connecting your software'), or name such an agent with --settings-from")
    return found, source, model


def _pick_model(ctx: Context, preferred: str | None) -> str:
    if preferred and preferred in ctx.config.models:
        return preferred
    bundled = [n for n, m in ctx.config.models.items() if getattr(m, "kind", "") == "bundled"]
    if bundled:
        return bundled[0]
    if ctx.config.models:
        return next(iter(ctx.config.models))
    raise ConfigurationError("the configuration names no model: add one under models: first")


def add_agent(ctx: Context, actor: Actor, config_file: Path, template_name: str, owner: str, *,
              name: str | None = None, settings_from: str | None = None, model: str | None = None,
              options: dict[str, Any] | None = None) -> Installed:
    """Add the flagship ``template_name`` for ``owner`` to ``config_file``; what was installed.

    Raises NotFound (template, owner, agent to copy from), NotAuthorized (audited), UsageError (the
    name is taken), ConfigurationError (a needed connection is missing; the result would not be a
    valid configuration). The file is replaced atomically, keeping its mode; nothing changes on error.
    """
    t = template(template_name)
    _may_install(ctx, actor, owner)
    unknown = sorted(set(options or {}) - set(t.options))
    if unknown:
        known = ", ".join(t.options) or "none"
        raise UsageError(f"{t.name} has no option {unknown[0]!r} (its options: {known})")
    empty = sorted(k for k, v in (options or {}).items() if not str(v).strip())
    if empty:
        raise UsageError(f"--option {empty[0]} needs a value")
    same = [a.name for a in ctx.config.agents if a.owner == owner and t.workflow and a.workflow == t.workflow]
    if same and name is None:
        raise UsageError(f"{owner} already has {t.name} (agent {same[0]!r}); to install another, give it a --name")
    taken = {a.name for a in ctx.config.agents}
    agent_name = name or t.name
    if agent_name in taken:
        raise UsageError(f"an agent named {agent_name!r} already exists: choose another with --name")
    settings, source, source_model = _settings(ctx, t, owner, settings_from)
    user = next(u for u in ctx.config.users if u.id == owner)
    block = t.agent(name=agent_name, owner=owner, model=model or _pick_model(ctx, source_model), settings=settings,
                    timezone=user.timezone, options=options)
    if options:
        block["options"] = dict(options)
    target = Path(os.path.realpath(config_file))  # a symlinked configuration is edited where it lives
    with _locked(target):
        text = _with_agent(target, block)  # read inside the lock: two installs at once both land
        from meshclaw.domain.config_file import parse_config

        parsed = parse_config(text, target)
        if any(a.name == agent_name for a in parse_config(target.read_text(encoding="utf-8"), target).agents):
            raise UsageError(f"an agent named {agent_name!r} already exists: choose another with --name")
        problems = parsed.problems()
        if problems:
            path, message = problems[0]
            raise ConfigurationError(
                f"the new agent would make the configuration invalid: {'.'.join(map(str, path))}: {message}")
        _replace(target, text)
    record(ctx, actor, "agents.add", agent=agent_name, owner=owner, template=t.name, copied_from=source)
    return Installed(agent_name, t.name, owner, t.plain_words(), source)


@contextlib.contextmanager
def _locked(config_file: Path) -> Iterator[None]:
    """An exclusive lock beside the configuration (``.NAME.lock``, 0600) for one read-modify-write."""
    lock = config_file.with_name(f".{config_file.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _with_agent(config_file: Path, block: dict[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, order and quoting of the rest of the file are kept
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # "  - item" under a key, as the starter writes lists
    yaml.width = 4096
    data = yaml.load(config_file.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{config_file}: the configuration is not a mapping")
    agents = data.setdefault("agents", [])
    if agents is None:
        data["agents"] = agents = []
    agents.append(_plain(block))
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _plain(value: Any) -> Any:
    """Pydantic values (SecretRef strings, enums) as plain YAML scalars."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json", exclude_defaults=True))
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _replace(path: Path, text: str) -> None:
    from meshclaw.domain.config_file import write_config_text

    write_config_text(path, text)  # atomically, 0600: the configuration holds user data
