"""Finding a connector's toolset by name, and checking every agent's connector settings and trigger events.

An agent's config names a toolset (``notes``, ``email``...), found among the connectors installed
under the ``meshclaw.connectors`` entry-point group, or gives ``module: pkg.mod:factory`` for one
that is not installed; either gets the same guard as the built-in ones (``meshclaw.domain.connector``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from meshclaw.domain.config import Config, ToolsetGrant
from meshclaw.domain.config_file import ConfigProblem, LineMap
from meshclaw.domain.connector import Connector, UnknownToolset, connector_for, installed_connectors, load_connector

__all__ = ["UnknownToolset", "known_events", "resolve", "validate_connector_settings"]


def resolve(name: str, grant: ToolsetGrant) -> Any:
    """A Toolset of @tool functions; for an ``mcp:`` entry, the server's granted tools as a pydantic-ai toolset.

    Raises UnknownToolset (one line) when no connector has the name or a ``module:`` does not load.
    """
    if grant.mcp is not None:
        from meshclaw.connectors.mcp.toolset import granted_mcp_toolset

        return granted_mcp_toolset(name, grant)
    return connector_for(name, grant).toolset()


def known_events() -> dict[str, str]:
    """Event name -> the installed connector that emits it (``email.received`` -> ``email``)."""
    out: dict[str, str] = {}
    for name in sorted(installed_connectors()):
        for event in load_connector(name).events:
            out.setdefault(event, name)
    return out


def validate_connector_settings(config: Config, lines: LineMap) -> list[ConfigProblem]:
    """Every agent's toolset settings checked against its connector's settings model, and every trigger
    event against the events the connectors declare; each problem with its line in the file.

    ``lines`` is the map ``load_config_with_lines`` returns. A toolset whose connector cannot be
    loaded is reported once here; a connector with the ``model`` capability must name (in its
    ``model`` setting, if any) a model defined under ``models``. MCP toolsets are validated by the
    configuration's own model.
    """
    problems: list[ConfigProblem] = []
    for i, agent in enumerate(config.agents):
        for name, grant in agent.toolsets.items():
            if grant.mcp is not None:
                continue
            try:
                connector = connector_for(name, grant)
            except UnknownToolset as e:
                problems.append(lines.problem(("agents", i, "toolsets", name), str(e)))
                continue
            at = ("agents", i, "toolsets", name, "settings")
            problems += _settings_problems(connector, grant, at, lines)
            model = grant.settings.get("model") if "model" in connector.capabilities else None
            if isinstance(model, str) and model not in config.models:
                problems.append(lines.problem(at + ("model",), f"{model!r} is not defined under 'models'"))
    problems += _event_problems(config, lines)
    return problems


def _settings_problems(connector: Connector, grant: ToolsetGrant, at: tuple, lines: LineMap) -> list[ConfigProblem]:
    try:
        connector.settings.model_validate(grant.settings)
    except ValidationError as e:
        known = ", ".join(connector.settings.model_fields) or "none"
        out = []
        for err in e.errors():
            if err["type"] == "extra_forbidden":
                message = f"unknown setting of the {connector.name} connector (check the spelling; it takes: {known})"
            elif err["type"] == "missing":
                message = f"missing setting {'.'.join(map(str, err['loc']))} of the {connector.name} connector"
            else:
                message = err["msg"].removeprefix("Value error, ")
            out.append(lines.problem(at + tuple(err["loc"]), message))
        return out
    return []


def _event_problems(config: Config, lines: LineMap) -> list[ConfigProblem]:
    """A trigger's event must come from one of the agent's own toolsets, whose connector declares it."""
    installed: dict[str, str] | None = None
    problems = []
    for i, agent in enumerate(config.agents):
        if not any(t.event for t in agent.triggers):
            continue
        installed = known_events() if installed is None else installed
        own: dict[str, str] = {}  # event -> the agent's toolset whose connector emits it
        for name, grant in agent.toolsets.items():
            if grant.mcp is None:
                try:
                    own.update({e: name for e in connector_for(name, grant).events if e not in own})
                except UnknownToolset:
                    pass  # reported with the toolset
        for j, trigger in enumerate(agent.triggers):
            if trigger.event is None or trigger.event in own:
                continue
            at = ("agents", i, "triggers", j, "event")
            source = installed.get(trigger.event)
            if source is None:
                known = ", ".join(sorted({*installed, *own})) or "none"
                problems.append(lines.problem(at, f"unknown event {trigger.event!r} (known: {known})"))
            else:
                problems.append(lines.problem(at, f"{trigger.event} comes from the {source} connector: "
                                                  f"give agent {agent.name} the {source} toolset"))
    return problems
