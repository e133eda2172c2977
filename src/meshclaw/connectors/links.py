"""``links``: the organisation's well-known pages by short name, from the toolset's own settings.

A small connector attached by import path (``module: meshclaw.connectors.links:connector``), as one
of your own would be: it shows the whole shape (a settings model, ``@tool`` functions that read
their validated settings from the narrow context, a ``Connector`` declaring both) and gets the
same guard, audit and durability as the built-in ones.

Settings: ``links: {name: url}``. The result is configuration, so it is labelled trusted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.connector import Connector
from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.runtime.tool_context import ToolContext


class LinksSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    links: dict[str, str] = Field(default_factory=dict, description="short name -> http(s) URL")

    @field_validator("links")
    @classmethod
    def urls(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"link {name!r} must be an http(s) URL, not {url!r}")
        return value


@tool("links.find", Effect.READ, output_trust="trusted")
async def links_find(ctx: RunContext[ToolContext], name: str) -> dict:
    """The address of one of the organisation's well-known pages.

    Args:
        name: the page's short name, e.g. "holidays" (unknown names list the known ones).
    """
    links = ctx.deps.settings.links  # type: ignore[attr-defined] - LinksSettings
    if name not in links:
        raise ModelRetry(f"no page named {name!r}; known: {', '.join(sorted(links)) or 'none'}")
    return {"name": name, "url": links[name]}


def toolset() -> Toolset:
    return Toolset("links", "The organisation's well-known pages by short name.", [links_find])


def connector() -> Connector:
    """The declaration the configuration's ``module:`` names."""
    return Connector(name="links", description="The organisation's well-known pages by short name.",
                     toolset=toolset, settings=LinksSettings)
