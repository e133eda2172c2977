"""The agents a person may act for, as a program (an MCP client) lists them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .actor import Actor
from .authority import may_act_for_agent
from .context import Context


@dataclass(frozen=True)
class AgentView:
    """One agent: who owns it, what it is for, and whether it acts for real now (``promoted``, not ``stopped``)."""

    name: str
    owner: str
    description: str
    model: str
    autonomy: str
    promoted: bool
    stopped: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_agents(ctx: Context, actor: Actor) -> list[AgentView]:
    """The agents ``actor`` may run and answer for (their own, their delegators', every one for an
    admin; the rule is ``authority.may_act_for_agent``), in configuration order."""
    return [AgentView(a.name, a.owner, a.description, a.model, str(getattr(a.autonomy, "value", a.autonomy)),
                      ctx.store.agents.is_promoted(a.name), ctx.store.agents.is_stopped(a.name))
            for a in ctx.config.agents if may_act_for_agent(ctx.config, actor, a)]
