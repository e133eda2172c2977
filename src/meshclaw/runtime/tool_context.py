"""What one tool call may touch: the narrow context a connector's function receives as ``ctx.deps``.

The guard pipeline calls ``tool_context(deps, toolset)`` right before it executes an allowed call
and hands the result to the tool in place of the run's own ``RunDeps``. The context carries what
the tool's connector declared (``meshclaw.domain.connector``) and nothing else of the run: its own
validated settings, the secrets its settings reference, the state kind it names (the owner's notes, or the owner's view of a sandbox workplace),
the capabilities it lists (a metered model); plus the run's id, agent name, owner, the
organisation's directory, the rehearsal flag and a read-only view of the run's provenance. It
holds no store, no secrets file, no configuration and no other agent's grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ValidationError

from meshclaw.domain.config import ToolsetGrant, User
from meshclaw.domain.connector import Connector, connector_for
from meshclaw.domain.effects import Toolset
from meshclaw.domain.errors import ConnectorProblem, NotAuthorized
from meshclaw.domain.runs import RunEvent
from meshclaw.policy.guard import find_grant
from meshclaw.policy.provenance import Origin, ProvenanceTracker

from .context import RunDeps, shown_event

if TYPE_CHECKING:
    from meshclaw.store.notes import Note, NoteRepository


@dataclass(frozen=True)
class OrgDirectory:
    """The organisation's people and mail domains, as the configuration lists them."""

    users: tuple[User, ...]
    domains: tuple[str, ...]

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)


class ProvenanceView:
    """Read-only view of the run's provenance: whether it is tainted and where a value came from."""

    def __init__(self, tracker: ProvenanceTracker):
        self._tracker = tracker

    @property
    def tainted(self) -> bool:
        return self._tracker.tainted

    def origin(self, value: str) -> Origin:
        return self._tracker.origin(value)

    def untrusted_origins(self) -> list[str]:
        """What untrusted content the run has read, in words (for labels a connector stores)."""
        return self._tracker.untrusted_origins()

    def in_owner_text(self, text: str) -> bool:
        """Are these the owner's (or the configuration's) own words?"""
        return self._tracker.in_owner_text(text)


class OwnerNotes:
    """The ``notes`` state: the run owner's notes, added under this run and agent; no one else's."""

    def __init__(self, repo: "NoteRepository", owner: str, agent: str, run_id: str):
        self._repo, self._owner, self._agent, self._run_id = repo, owner, agent, run_id

    def add(self, idempotency_key: str, text: str, *, trust: str = "untrusted", origin: str = "") -> tuple[int, bool]:
        """Add a note once per idempotency key, with the label of the run that wrote it; (note id, created now?)."""
        return self._repo.add(idempotency_key, owner=self._owner, agent=self._agent, run_id=self._run_id, text=text,
                              trust=trust, origin=origin)

    def list(self, *, contains: str | None = None, limit: int = 20) -> list["Note"]:
        """The owner's newest notes, newest first."""
        return self._repo.list(self._owner, contains=contains, limit=limit)


def _no_secrets(ref: str) -> str:
    raise NotAuthorized("this tool's connector declared no secrets")


@dataclass(frozen=True)
class ToolContext:
    """``ctx.deps`` of a tool call: see the module docstring for what it holds and why."""

    run_id: str
    agent: str
    owner: User
    directory: OrgDirectory
    connector: str  # the agent's name for this toolset (``email``)
    settings: BaseModel
    rehearsal: bool
    provenance: ProvenanceView
    state: Any = None
    # Built by tool_context() below: the resolver refuses any reference the connector did not declare.
    _resolve: Callable[[str], str] = field(default=_no_secrets, repr=False)
    _emit: Callable[[RunEvent], None] = field(default=lambda event: None, repr=False)
    _model: Callable[[str | None], Any] | None = field(default=None, repr=False)
    _granted: Callable[[str], bool] = field(default=lambda tool: False, repr=False)

    def secret(self, ref: str) -> str:
        """The value of a secret reference this connector's settings declare.

        Raises NotAuthorized for any other reference, and SecretMissing if it resolves to nothing.
        """
        return self._resolve(ref)

    def idempotency_key(self, tool_call_id: str) -> str:
        """Stable across crash and replay (the same as the run's ``RunDeps.idempotency_key``)."""
        return RunDeps.idempotency_key(self, tool_call_id)  # type: ignore[arg-type] - uses run_id only

    def emit(self, event: RunEvent) -> None:
        """Send a typed event (``meshclaw.domain.runs``) to the run's listeners (the printed steps of ``meshclaw run``)."""
        self._emit(event)

    def model(self, name: str | None = None) -> Any:
        """A metered model of the organisation (default: the agent's own), for a connector with capability ``model``."""
        if self._model is None:
            raise NotAuthorized(f"the {self.connector} connector did not declare the 'model' capability")
        return self._model(name)

    def granted(self, tool: str) -> bool:
        """Whether the agent holds a grant for ``tool`` (e.g. ``email.read``)."""
        return self._granted(tool)


# An ``mcp:`` toolset as a connector: no settings (the ``mcp`` section is validated by the configuration),
# no secrets (its server's are resolved when the server starts), no state.
MCP = Connector(name="mcp", description="an MCP server's tools", toolset=lambda: Toolset("mcp", "listed by the server"))


def _grant_of(deps: RunDeps, toolset: str) -> tuple[str, ToolsetGrant]:
    grant = deps.agent.toolsets.get(toolset)
    if grant is not None:
        return toolset, grant
    for name, g in deps.agent.toolsets.items():  # a module toolset whose tools are named after another toolset
        if any(x.tool.startswith(f"{toolset}.") for x in g.grants):
            return name, g
    raise ConnectorProblem(f"agent {deps.agent.name} has no toolset {toolset}")


def settings_of(connector: Connector, grant: ToolsetGrant, toolset: str) -> BaseModel:
    """An agent's settings for a connector, validated by its model; ConnectorProblem names the first problem."""
    try:
        return connector.settings.model_validate(grant.settings)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"])) or "settings"
        raise ConnectorProblem(f"toolsets.{toolset}.settings.{where}: {err['msg'].removeprefix('Value error, ')}") from None


def _workplace_state(deps: RunDeps, name: str | None) -> Any:
    """The ``workplace`` state: the run owner's view of the sandbox workplace ``name`` (opened on use)."""
    from meshclaw.store.workplace_access import WorkplaceState

    users = deps.config.users
    return WorkplaceState(deps.store.workplaces, deps.store.workplace_chat, deps.owner.id, name,
                          {u.email.lower(): u.id for u in users if u.email}, {u.id: u.name for u in users})


def tool_context(deps: RunDeps, toolset: str) -> ToolContext:
    """The context a tool of ``toolset`` receives for this run: only what its connector declared.

    ``toolset`` is the first part of the tool's name (``email`` for ``email.send``). An MCP
    toolset's calls get the same narrow context with no settings and no secrets (its server's
    secrets are resolved when the server starts). Raises ConnectorProblem when the agent has no
    such toolset or its settings do not validate.
    """
    name, grant = _grant_of(deps, toolset)
    connector = MCP if grant.mcp is not None else connector_for(name, grant)
    settings = settings_of(connector, grant, name)
    state = None
    if connector.state == "notes" and deps.store is not None:
        state = OwnerNotes(deps.store.notes, deps.owner.id, deps.agent.name, deps.run_id)
    elif connector.state == "workplace" and deps.store is not None:
        state = _workplace_state(deps, getattr(settings, "workplace", None))
    listeners = tuple(deps.listeners)
    declared, secrets = frozenset(connector.secrets(settings)), deps.secrets

    def resolve(ref: str) -> str:
        if ref not in declared:
            raise NotAuthorized(f"the {name} connector did not declare the secret {ref.partition(':')[0]}:…")
        return secrets.resolve(ref)

    def emit(event: RunEvent) -> None:
        if listeners:
            event = shown_event(event, secrets)
        for listen in listeners:
            listen(event)

    model = None
    if "model" in connector.capabilities:
        config, store, agent_model = deps.config, deps.store, deps.agent.model

        def model(model_name: str | None) -> Any:
            from .metered import metered_model

            # Metered and priced like the planner's requests: a connector's model counts against the budgets too.
            return metered_model(model_name or agent_model, config.models, store.home, secrets)

    agent = deps.agent
    return ToolContext(
        run_id=deps.run_id, agent=agent.name, owner=deps.owner,
        directory=OrgDirectory(tuple(deps.config.users), tuple(d.lower() for d in deps.config.organisation.domains)),
        connector=name, settings=settings, rehearsal=deps.rehearsal,
        provenance=ProvenanceView(deps.provenance), state=state,
        _resolve=resolve, _emit=emit, _model=model,
        _granted=lambda tool: find_grant(agent, tool) is not None,
    )

