"""What a tool does to the world, declared once by the tool and read by the guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable


class Effect(StrEnum):
    """The effect class of a tool, from harmless to consequential."""

    READ = "read"  # looks, changes nothing
    WRITE = "write"  # changes the owner's own workspace (a note, a draft, a label)
    EXTERNAL = "external"  # reaches other people or systems, or cannot be undone (send, post, deploy, delete)

    @property
    def consequential(self) -> bool:
        return self is Effect.EXTERNAL


@dataclass(frozen=True)
class ToolSpec:
    """A tool's declaration: its name as grants and audit know it, its effect, and which arguments matter.

    ``sensitive_args`` name the arguments whose origin the guard checks before a consequential
    call (recipients, targets, identifiers): if one came from untrusted content, the call does not
    run on its own.  ``output_trust`` says whether what the tool returns can be trusted as
    instructions ("trusted": the organisation's own data) or only as data ("untrusted").
    ``egress`` name the arguments whose values leave the organisation even when the tool only
    reads (a URL fetched, a query sent to a web search): the guard checks that they carry no data
    read in the run and that their target was not chosen by outside content. Any URL in a read's
    arguments is treated the same way whether declared or not.
    """

    name: str
    effect: Effect
    description: str = ""
    sensitive_args: tuple[str, ...] = ()
    output_trust: str = "trusted"
    offered: bool = True  # False: callable from workflow code only, never shown to a model
    # Arguments that are outside content by design (a received message to file), which the connector
    # stores labelled as outside content: a workspace write does not hold them for being copies.
    outside_content: tuple[str, ...] = ()
    egress: tuple[str, ...] = ()

    @property
    def model_name(self) -> str:
        """The name a model sees: dots are not allowed in tool names by most providers."""
        return self.name.replace(".", "_")


TOOL_ATTR = "__meshclaw_tool__"


def tool(
    name: str,
    effect: Effect | str,
    *,
    sensitive: tuple[str, ...] | list[str] = (),
    output_trust: str = "trusted",
    description: str | None = None,
    offered: bool = True,
    egress: tuple[str, ...] | list[str] = (),
    outside_content: tuple[str, ...] | list[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a function as a MeshClaw tool. The function is returned unchanged, with its spec attached.

    ``offered=False`` declares a tool for workflow code only (``calls.tool``): a granted model never
    sees it, e.g. one whose input must come from a system (a raw message) rather than from a model.
    ``outside_content`` names arguments that are outside content by design and that the connector
    stores labelled as such; a workspace write is then not held for copying them."""

    if output_trust not in ("trusted", "untrusted"):
        raise ValueError(f"output_trust must be 'trusted' or 'untrusted', not {output_trust!r}")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip().split("\n\n")[0].strip()
        spec = ToolSpec(
            name=name,
            effect=Effect(effect),
            description=description or doc,
            sensitive_args=tuple(sensitive),
            output_trust=output_trust,
            offered=offered,
            egress=tuple(egress),
            outside_content=tuple(outside_content),
        )
        setattr(fn, TOOL_ATTR, spec)
        return fn

    return mark


def spec_of(fn: Callable[..., Any]) -> ToolSpec:
    spec = getattr(fn, TOOL_ATTR, None)
    if spec is None:
        raise TypeError(f"{fn!r} is not declared with @tool")
    return spec


@dataclass
class Toolset:
    """A named group of tools that one connector provides (``email``, ``calendar``, ``notes``)."""

    name: str
    description: str
    functions: list[Callable[..., Any]] = field(default_factory=list)

    def specs(self) -> list[ToolSpec]:
        return [spec_of(f) for f in self.functions]

    def function(self, tool_name: str) -> Callable[..., Any]:
        for f in self.functions:
            if spec_of(f).name == tool_name:
                return f
        raise KeyError(tool_name)
