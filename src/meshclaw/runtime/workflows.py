"""Named workflows: runs whose steps are written in code, not chosen by a model.

An agent with ``workflow: NAME`` in its configuration runs the workflow NAME instead of the
model's tool loop. A workflow is ``async def body(calls: Calls) -> str``: code lists and iterates,
every action is a guarded call (``await calls.tool("email.list", folder="INBOX")``) and the model
makes one small typed judgement at a time (``await calls.judge(Label, ...)``). It runs inside the
run's durable workflow, so it must be deterministic given its calls' results, which are
checkpointed: a recovered run replays completed calls instead of repeating them.

Workflows are registered in code (``register_workflow``) or found through the ``meshclaw.workflows``
entry-point group (``name = "package.module:function"``), so a recovered run in a new process finds
them too.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from meshclaw.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from .calls import Calls

Workflow = Callable[["Calls"], Awaitable[Any]]
ENTRY_POINT_GROUP = "meshclaw.workflows"
_REGISTRY: dict[str, Workflow] = {}


def register_workflow(name: str, body: Workflow | None = None) -> Any:
    """Register ``body`` under ``name`` (also usable as ``@register_workflow("name")``)."""

    def add(fn: Workflow) -> Workflow:
        _REGISTRY[name] = fn
        return fn

    return add(body) if body is not None else add


def known_workflows() -> list[str]:
    return sorted(set(_REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def workflow(name: str) -> Workflow:
    """The workflow registered as ``name``. Raises ``ConfigurationError`` naming the known ones."""
    found = _REGISTRY.get(name)
    if found is not None:
        return found
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            body = ep.load()
            _REGISTRY[name] = body
            return body
    known = ", ".join(known_workflows()) or "none"
    raise ConfigurationError(f"unknown workflow {name!r} (known: {known})")
