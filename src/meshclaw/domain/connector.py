"""What a connector declares: its name, settings model, tools, events, secrets, state and capabilities.

A connector is found by name in the ``meshclaw.connectors`` entry-point group (built-in ones are
registered there by MeshClaw's own package metadata, exactly as a third-party package registers
its own), or by a configuration's ``module: package.module:factory``. The factory returns a
``Connector``, or (older toolsets) a bare ``Toolset``, which becomes a connector with no settings,
no events, no secrets and no state.

What a connector declares is all a tool of it may touch when it runs (see
``meshclaw.runtime.tool_context``): its own validated settings, the secret references its settings
hold, the state kind it names, and the capabilities it lists. Nothing else of the run, and never
the store.
"""

from __future__ import annotations

import importlib
import types
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Callable

from pydantic import AfterValidator, BaseModel, ConfigDict

from .config import ToolsetGrant, check_secret_ref
from .effects import Toolset
from .errors import ConnectorProblem

ENTRY_POINT_GROUP = "meshclaw.connectors"

# State the runtime keeps for a connector, scoped to the run's owner (the connector never sees the store).
# "workplace": the owner's view of the sandbox workplace its settings name (field ``workplace``).
STATE_KINDS = ("notes", "workplace")
# What a connector may ask the runtime for beyond its settings and secrets.
CAPABILITIES = ("model",)  # "model": a metered model of the organisation, for tool-less reading


class NoSettings(BaseModel):
    """The settings of a connector that takes none: any key given is a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_secret_ref(annotation: Any) -> bool:
    """True for ``SecretRef`` and ``SecretRef | None`` (and lists of them)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, AfterValidator) and m.func is check_secret_ref for m in annotation.__metadata__)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple):
        return any(_is_secret_ref(a) for a in typing.get_args(annotation))
    return False


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a settings model typed ``SecretRef`` (or an optional or list of them), in order."""
    out = []
    for name, info in model.model_fields.items():
        annotated = typing.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        if _is_secret_ref(annotated) or _is_secret_ref(info.annotation):
            out.append(name)
    return out


def secret_refs_of(settings: BaseModel) -> list[str]:
    """The secret references (``env:NAME``, ``secret:NAME``) held by a settings object's SecretRef fields."""
    refs: list[str] = []
    for name in secret_fields(type(settings)):
        value = getattr(settings, name)
        for ref in value if isinstance(value, (list, tuple)) else [value]:
            if ref is not None and ref not in refs:
                refs.append(ref)
    return refs


@dataclass(frozen=True)
class Connector:
    """A connector's declaration.

    ``settings`` validates an agent's ``toolsets.<name>.settings`` (use ``extra="forbid"`` so a
    misspelt key is reported with its line by ``meshclaw config check``); ``toolset`` builds its
    ``@tool`` functions; ``events`` are the trigger events it can emit (``email.received``);
    ``secrets`` gives the secret references a settings object uses (default: its ``SecretRef``
    fields), the only ones its tools can resolve; ``state`` names the state the runtime keeps for
    it (one of ``STATE_KINDS``, or None); ``capabilities`` lists what else it may ask for
    (``CAPABILITIES``).
    """

    name: str
    description: str
    toolset: Callable[[], Toolset]
    settings: type[BaseModel] = NoSettings
    events: tuple[str, ...] = ()
    secrets: Callable[[Any], list[str]] = secret_refs_of
    state: str | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in STATE_KINDS:
            raise ValueError(f"connector {self.name}: unknown state kind {self.state!r} (known: {', '.join(STATE_KINDS)})")
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"connector {self.name}: unknown capabilities {sorted(unknown)} (known: {', '.join(CAPABILITIES)})")
        for event in self.events:
            if not event.startswith(f"{self.name}."):
                raise ValueError(f"connector {self.name}: event {event!r} must be named {self.name}.<event>")


def as_connector(made: Any, name: str, where: str) -> Connector:
    """A factory's product as a Connector: a Connector as is, a bare Toolset wrapped (no settings, secrets, state).

    Raises TypeError naming ``where`` for anything else.
    """
    if isinstance(made, Connector):
        return made
    if isinstance(made, Toolset):
        return Connector(name=name, description=made.description, toolset=lambda: made)
    raise TypeError(f"{where} returned {type(made).__name__}, not a Connector or a Toolset")


class UnknownToolset(ConnectorProblem):
    """No installed connector has this name, or a ``module:`` path does not load."""


@lru_cache(maxsize=None)
def installed_connectors() -> dict[str, str]:
    """Connector name -> ``module:attr`` of every connector in the ``meshclaw.connectors`` entry-point group."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


@lru_cache(maxsize=None)
def load_connector(name: str, module: str | None = None) -> Connector:
    """The connector for a toolset: ``module`` (``package.module:factory``) if given, else the installed ``name``.

    Raises UnknownToolset with one line when there is none, the path does not import, or the
    factory returns neither a Connector nor a Toolset.
    """
    path = module or installed_connectors().get(name)
    if path is None:
        if not installed_connectors():  # even the built-in ones are missing: the package metadata is stale
            raise UnknownToolset(f"unknown toolset {name!r}: no connectors are installed (reinstall MeshClaw: scripts/setup)")
        known = ", ".join(sorted(installed_connectors()))
        raise UnknownToolset(f"unknown toolset {name!r} (installed: {known}; or give 'module: package.module:factory')")
    mod, _, attr = path.partition(":")
    try:
        factory = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as e:
        raise UnknownToolset(f"cannot load toolset {path!r}: {e}") from None
    try:
        return as_connector(factory() if callable(factory) and not isinstance(factory, Connector) else factory,
                            name, path)
    except (TypeError, ValueError) as e:
        raise UnknownToolset(str(e)) from None


def connector_for(name: str, grant: ToolsetGrant) -> Connector:
    """The connector behind one of an agent's (non-MCP) toolsets: its ``module``, else the installed ``name``."""
    return load_connector(name, grant.module)
