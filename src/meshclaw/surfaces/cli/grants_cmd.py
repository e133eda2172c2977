"""``meshclaw grants show AGENT``: exactly what an agent may do, in plain words."""

from __future__ import annotations

import typer

from .app_context import load, open_store

app = typer.Typer(help="What agents may do.", no_args_is_help=True)

AUTONOMY = {
    "observe": "observes only: it proposes actions and never performs a write",
    "ask": "asks its owner before every write",
    "auto": "acts within its grants; asks its owner when untrusted content could be steering an action",
}
EFFECT = {"read": "reads", "write": "changes the owner's workspace", "external": "reaches others or cannot be undone"}


def describe(agent_name: str) -> list[str]:
    from meshclaw.connectors.registry import resolve
    from meshclaw.domain.effects import spec_of

    config = load()
    agent = config.agent(agent_name)
    store = open_store()
    lines = [f"{agent.name} acts for {agent.owner} and {AUTONOMY[agent.autonomy.value]}."]
    if store.agents.is_stopped(agent.name):
        lines.append("It is STOPPED (kill switch): it does nothing until `meshclaw start`.")
    if not store.agents.is_promoted(agent.name):
        lines.append("It is in rehearsal: its writes are captured, not executed, until `meshclaw promote`.")
    lines.append("It may:")
    any_grant = False
    for name, grant in agent.toolsets.items():
        if grant.mcp is not None:
            specs = {}
            declared = {f"{name}.{tool}": e for tool, e in grant.effects.items()}
        else:
            specs = {s.name: s for s in (spec_of(f) for f in resolve(name, grant).functions)} if grant.grants else {}
            declared = {}
        for g in grant.grants:
            spec = specs.get(g.tool)
            effect_name = spec.effect.value if spec else declared.get(g.tool)
            effect = f" ({EFFECT[str(effect_name)]})" if effect_name else (" (MCP tool: its effect comes from the server)" if grant.mcp else "")
            lines.append(f"  - {g.describe()}{effect}")
            any_grant = True
    if not any_grant:
        lines.append("  - nothing: no tool is granted")
    lines.append("It may not use any other tool (deny by default).")
    lim = agent.limits
    lines.append(f"Per run: at most {lim.tool_calls_per_run} tool calls, {lim.model_requests_per_run} model requests, "
                 f"{lim.run_seconds} s; approval requests expire after {lim.approval_seconds} s.")
    budgets = [f"{u} per {p}: {int(v):,}" if u == "tokens" else f"{u} per {p}: ${v:.2f}" for p, u, v in agent.budget.limits()]
    owner_budget = [f"{u} per {p}: {int(v):,}" if u == "tokens" else f"{u} per {p}: ${v:.2f}"
                    for p, u, v in config.user(agent.owner).budget.limits()]
    lines.append("Budget: " + ("; ".join(budgets) if budgets else "none set for the agent")
                 + (f"; its owner's: {'; '.join(owner_budget)}" if owner_budget else ""))
    return lines


@app.command("show")
def show(agent: str = typer.Argument(..., help="The agent's name.")) -> None:
    """Print exactly what an agent may do, in plain words."""
    from .printer import echo

    for line in describe(agent):
        echo(line)
