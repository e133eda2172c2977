"""Checking a configuration file: every problem, each with its line.

This operation reads only the file it is given, so it takes no actor: the file may not be valid
enough to say who anyone is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from meshclaw.domain.config_file import ConfigError, ConfigProblem, load_config_with_lines


@dataclass(frozen=True)
class ConfigSummary:
    """A configuration that can be used; ``warnings``, each with its line: what is still to do on this
    machine (the bundled model is not installed yet), and grants that let an agent reach other people
    without asking."""

    path: Path
    users: int
    models: int
    agents: int
    warnings: list[ConfigProblem] = field(default_factory=list)


def check_config(path: Path, secrets_file: Path | None = None, *, store: Callable[[], Any] | None = None,
                 record_chart: bool = True) -> ConfigSummary:
    """Validate the configuration at ``path``: the schema and references, each agent's grants against
    its toolsets' tools, the connectors' own settings, cost budgets on unpriced models, credentials
    written into any setting (a URL's ``user:password@`` or ``?token=``, a password given literally
    instead of ``env:``/``secret:``), the secrets it names (in the environment, or in ``secrets_file``, default ``$MESHCLAW_HOME/secrets.env``),
    that file's mode (0600), and whether its bundled model is installed.

    ``store``: opens the store (called only for a valid configuration). Then the management chart is
    compared with the store's observations (``usage_chart``) — recorded there unless ``record_chart``
    is False (a file that is not the configuration in use) — and a warning names each manager change
    written without ``manager_since``; a store that cannot be opened or written is one warning.

    Raises ConfigError listing every problem with its line; returns counts (and warnings) when
    there is none."""
    from meshclaw.domain.environment import environment

    from .config_setup import bundled_model_missing, loose_secrets_file, missing_secrets, unattended_external_grants

    secrets_file = secrets_file or environment().home / "secrets.env"
    config, lines = load_config_with_lines(path)
    validate = _connector_settings_check()
    problems = list(validate(config, lines)) if validate is not None else []
    problems += _grant_problems(config, lines, report_unknown=validate is None)
    problems += _grant_condition_problems(config, lines)
    problems += _unpriced_cost_budgets(config, lines)
    problems += loose_secrets_file(secrets_file)
    problems += missing_secrets(lines, secrets_file)
    problems += _credentials_in_settings(config, lines, problems)
    if problems:
        raise ConfigError(path, problems)
    return ConfigSummary(path, len(config.users), len(config.models), len(config.agents),
                         _nothing_configured(config) + bundled_model_missing(config, lines)
                         + unattended_external_grants(config, lines)
                         + (_chart_changes(config, lines, store, record_chart) if store is not None else []))


def _chart_changes(config: Any, lines: Any, store: Callable[[], Any], record: bool) -> list[ConfigProblem]:
    """One warning per manager change written without ``manager_since`` (``usage_chart.plain_changes``),
    after recording the chart (``record``); one warning instead when the store is out of reach."""
    from meshclaw.domain.errors import StoreError

    from .usage_chart import observe, plain_changes

    try:
        observed = observe(config, store(), record=record)
    except StoreError as e:
        return [ConfigProblem(None, "", f"the management chart was not compared with the store ({e}); "
                              "the next usage read records it")]
    return [lines.problem(("users", c.index, "manager"), c.message) for c in plain_changes(config, observed)]


def _nothing_configured(config: Any) -> list[ConfigProblem]:
    """A configuration with no users or no agents is valid but runs nothing: say so (a warning)."""
    missing = [what for what, n in (("users", len(config.users)), ("agents", len(config.agents))) if not n]
    if not missing:
        return []
    return [ConfigProblem(None, "", f"no {' and no '.join(missing)} defined: nothing will run (`meshclaw init` "
                          "writes a commented starter; `meshclaw agents add TEMPLATE --owner USER` adds a flagship)")]


def _grant_problems(config: Any, lines: Any, *, report_unknown: bool) -> list[Any]:
    """A grant that names a tool its toolset does not have (MCP tools: only the ``name.`` prefix, as the
    server's tool list is known only when it runs). ``report_unknown``: also a toolset that cannot be
    loaded (the connectors' settings check reports those when there is one)."""
    from meshclaw.connectors.registry import UnknownToolset, resolve
    from meshclaw.domain.effects import spec_of

    problems = []
    for i, agent in enumerate(config.agents):
        for name, grant in agent.toolsets.items():
            if grant.mcp is not None:
                for j, g in enumerate(grant.grants):
                    if not g.tool.startswith(f"{name}."):
                        problems.append(lines.problem(("agents", i, "toolsets", name, "grants", j),
                                                      f"tools of MCP toolset {name} are named {name}.<tool>"))
                continue
            try:
                toolset = resolve(name, grant)
            except UnknownToolset as e:
                if report_unknown:
                    problems.append(lines.problem(("agents", i, "toolsets", name), str(e)))
                continue
            tools = {spec_of(f).name for f in toolset.functions}
            for j, g in enumerate(grant.grants):
                if g.tool not in tools:
                    problems.append(lines.problem(("agents", i, "toolsets", name, "grants", j),
                                                  f"toolset {name} has no tool {g.tool!r} (it has: {', '.join(sorted(tools))})"))
    return problems


def _grant_condition_problems(config: Any, lines: Any) -> list[Any]:
    """A grant condition on an argument its tool does not have would never be checked (``policy.conditions``)."""
    from meshclaw.connectors.registry import resolve
    from meshclaw.policy.conditions import grant_condition_problems

    return [lines.problem(where, message) for where, message in grant_condition_problems(config, resolve)]


def _connector_settings_check() -> Callable[[Any, Any], list[Any]] | None:
    """The connectors' check of their own settings and trigger events,
    ``connectors.registry.validate_connector_settings(config, lines) -> [problems]``.

    CONNECTOR SETTINGS: the single place that check is found; None while the registry does not offer
    it (then an unknown toolset is reported by the grants check instead)."""
    from meshclaw.connectors import registry

    return getattr(registry, "validate_connector_settings", None)


def _unpriced_cost_budgets(config: Any, lines: Any) -> list[Any]:
    """A cost budget on an agent whose model has no known price would stop its every run: say so now."""
    from meshclaw.runtime.pricing import pricing_for

    problems = []
    owners = {u.id: u for u in config.users}
    for i, agent in enumerate(config.agents):
        owner = owners.get(agent.owner)
        whose = [f"agent {agent.name}"] if any(u == "cost" for _, u, _ in agent.budget.limits()) else []
        if owner is not None and any(u == "cost" for _, u, _ in owner.budget.limits()):
            whose.append(f"its owner {owner.id}")
        if not whose or agent.model not in config.models:
            continue
        pricing = pricing_for(agent.model, config.models)
        if not pricing.known:
            problems.append(lines.problem(("agents", i, "model"),
                                          f"{' and '.join(whose)} {'have' if len(whose) > 1 else 'has'} a cost budget, "
                                          f"but {pricing.unknown_message()}"))
    return problems


def _credentials_in_settings(config: Any, lines: Any, found: list[Any]) -> list[Any]:
    """A credential written into the configuration, wherever it is: a URL carrying ``user:password@``
    or a query parameter named like a credential, in any connector setting (nested too), an MCP
    server's url or arguments, or a model's base_url; a setting named like a secret (password,
    token, api_key...) holding a literal. Each with its line; a problem ``found`` already (the
    connector's own ``SecretRef`` check) is not repeated. Rules: ``meshclaw.domain.secrets``."""
    from meshclaw.domain.secrets import literal_secret_problem, url_credential_problem

    out: list[Any] = []

    def check(at: tuple, key: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                check(at + (k,), str(k), v)
        elif isinstance(value, (list, tuple)):
            for j, v in enumerate(value):
                check(at + (j,), key, v)
        elif isinstance(value, str):
            for message in (url_credential_problem(value), literal_secret_problem(key, value)):
                if message is not None:
                    out.append(lines.problem(at, message))

    # Every value of the whole configuration (models, toolsets, MCP servers, chat_control, anything
    # added later): a credential is refused wherever it is written.
    data = config.model_dump(mode="json", exclude_defaults=True)
    for key, value in data.items():
        check((key,), key, value)
    for i, agent in enumerate(config.agents):
        for name, grant in agent.toolsets.items():
            if grant.mcp is not None:
                at = ("agents", i, "toolsets", name)
                out.extend(lines.problem(at + ("mcp", "args", j), message)
                           for j, message in _secret_arguments(list(grant.mcp.args)))
    seen = {(p.line, p.message) for p in found}
    unique = []
    for p in out:
        if (p.line, p.message) not in seen:
            seen.add((p.line, p.message))
            unique.append(p)
    return unique


def _secret_arguments(args: list[str]) -> list[tuple[int, str]]:
    """``(index, why)`` for each command-line argument that writes a secret into the configuration:
    ``--api-key=LITERAL``, or ``--password LITERAL`` (a server reads a secret from ``mcp.env`` instead)."""
    from meshclaw.domain.secrets import literal_secret_problem

    found = []
    for j, arg in enumerate(args):
        if not arg.startswith("-"):
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if not eq:
            value = args[j + 1] if j + 1 < len(args) and not args[j + 1].startswith("-") else ""
        message = literal_secret_problem(name.replace("-", "_"), value)
        if message is not None:
            found.append((j if eq else j + 1, message + "; pass it to the server through mcp.env"))
    return found
