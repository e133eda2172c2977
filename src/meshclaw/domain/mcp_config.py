"""The ``mcp:``, ``effects:`` and ``sensitive:`` keys of a toolset: how to reach an MCP server and
what its tools do to the world, declared once by whoever attaches the server.

Part of the configuration (``ToolsetGrant`` uses these types), so it lives in the domain layer and
imports only pydantic and ``Effect``: validating a config loads no MCP client code. The MCP client
itself is ``meshclaw.connectors.mcp``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from meshclaw.domain.effects import Effect

# The same rule as meshclaw.domain.config.check_secret_ref (that module imports this one, so it
# cannot be imported from here).
_SECRET_REF = re.compile(r"^(env|secret):[A-Za-z_][A-Za-z0-9_.-]*$")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
# A tool name as grants spell it after the toolset prefix (``crm.lookup_customer``): server tools
# with other names (capitals, dashes, dots) cannot be granted, so they are never offered.
TOOL_NAME = r"^[a-z][a-z0-9_]*$"
ARG_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"


def _secret_ref(value: str) -> str:
    if _SECRET_REF.match(value):
        return value
    raise ValueError(
        "values given to an MCP server are never written into the config: name each one as "
        "'env:VARIABLE' or 'secret:NAME' (NAME is looked up in the secrets file)"
    )


def _tool_name(value: str) -> str:
    if re.fullmatch(TOOL_NAME, value):
        return value
    raise ValueError("an MCP tool is named here as the server names it, in lower-case letters, digits and '_' "
                     "(tools named otherwise cannot be granted)")


ServerSecret = Annotated[str, AfterValidator(_secret_ref)]
ToolName = Annotated[str, AfterValidator(_tool_name)]


class McpServerConfig(BaseModel):
    """How to start or reach one MCP server: a command run over stdio, or a streamable-HTTP URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = Field(default=None, min_length=1, description="program to run; the server speaks MCP on stdin/stdout")
    args: list[str] = Field(default_factory=list)
    env: dict[Annotated[str, Field(pattern=ENV_NAME)], ServerSecret] = Field(
        default_factory=dict,
        description="extra environment for the server process, each value env:NAME or secret:NAME; "
                    "nothing else of MeshClaw's environment is passed on")
    cwd: str | None = None
    url: str | None = Field(default=None, description="streamable-HTTP endpoint, e.g. http://127.0.0.1:8000/mcp")
    headers: dict[Annotated[str, Field(pattern=HEADER_NAME)], ServerSecret] = Field(
        default_factory=dict, description="HTTP headers sent to the server, each value env:NAME or secret:NAME")
    output_trust: Literal["untrusted", "trusted"] = Field(
        default="untrusted",
        description="'trusted' only for a server that returns the organisation's own data: its output may then "
                    "steer consequential calls")
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds to wait for the server to start and answer")

    @field_validator("url")
    @classmethod
    def http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8000/mcp")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: send them as a header with an env: or secret: value")
        return value

    @model_validator(mode="after")
    def one_transport(self) -> "McpServerConfig":
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server has either 'command' (run over stdio) or 'url' (streamable HTTP), not both or neither")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("'args', 'env' and 'cwd' apply to a 'command' server; an HTTP server takes 'headers'")
        if self.command is not None and self.headers:
            raise ValueError("'headers' apply to a 'url' server; a command server takes 'env'")
        return self

    def describe(self) -> str:
        """Where the server is, for error messages: the command line or the URL, never env or headers."""
        if self.url is not None:
            return self.url
        return " ".join([self.command or "", *self.args]).strip()


EffectsMap = dict[ToolName, Effect]
SensitiveMap = dict[ToolName, Annotated[list[Annotated[str, Field(pattern=ARG_NAME)]], Field(min_length=1)]]


def check_mcp_keys(mcp: Any, module: Any, settings: dict[str, Any], effects: dict[str, Any], sensitive: dict[str, Any]) -> None:
    """Cross-field rules for a toolset entry; raises ValueError with a sentence a person can act on."""
    if mcp is None:
        if effects or sensitive:
            raise ValueError("'effects' and 'sensitive' declare the tools of an MCP server: add 'mcp:' "
                             "(a built-in or module toolset declares its tools' effects in code)")
        return
    if module is not None:
        raise ValueError("a toolset is either an MCP server ('mcp:') or a Python toolset ('module:'), not both")
    if settings:
        raise ValueError("an MCP toolset takes its options under 'mcp:' (command, args, env, url, headers), not 'settings:'")
