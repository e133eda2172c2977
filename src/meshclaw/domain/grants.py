"""Grants: what an agent may do with each tool, with argument conditions a person can read.

Deny by default: a tool with no grant is never offered to the model and never runs.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .addresses import address_or_none, domain_of


class Condition(BaseModel):
    """A condition on one argument. Every field that is set must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    equals: Any = None
    one_of: list[Any] | None = None
    domain_in: list[str] | None = Field(default=None, description="every address in the argument is in these domains")
    matches: str | None = Field(default=None, description="a regular expression the whole value must match")
    max: float | None = None
    max_items: int | None = None

    @model_validator(mode="after")
    def not_empty(self) -> "Condition":
        if not self.model_fields_set:
            raise ValueError("an argument condition needs at least one of: equals, one_of, domain_in, matches, max, max_items")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as e:
                raise ValueError(f"'matches' is not a valid regular expression: {e}") from None
        return self

    def check(self, value: Any) -> str | None:
        """Return None if the value satisfies the condition, else what is wrong, in words."""
        if "equals" in self.model_fields_set and value != self.equals:
            return f"must be {self.equals!r}"
        if self.one_of is not None and value not in self.one_of:
            return f"must be one of {', '.join(map(str, self.one_of))}"
        if self.domain_in is not None:
            allowed = {d.lower() for d in self.domain_in}
            for item in _items(value):
                address = address_or_none(item)
                if address is None:
                    return f"{item!r} is not exactly one well-formed address"
                if domain_of(address) not in allowed:
                    return f"{address!r} is outside {', '.join(sorted(allowed))}"
        if self.matches is not None and not (isinstance(value, str) and re.fullmatch(self.matches, value)):
            return f"must match {self.matches!r}"
        if self.max is not None and not (isinstance(value, (int, float)) and value <= self.max):
            return f"must be at most {self.max:g}"
        if self.max_items is not None and len(value if isinstance(value, (list, tuple)) else [value]) > self.max_items:
            return f"must have at most {self.max_items} items"
        return None

    def describe(self) -> str:
        parts = []
        if "equals" in self.model_fields_set:
            parts.append(f"is {self.equals!r}")
        if self.one_of is not None:
            parts.append(f"is one of {', '.join(map(str, self.one_of))}")
        if self.domain_in is not None:
            parts.append(f"only addresses at {', '.join(self.domain_in)}")
        if self.matches is not None:
            parts.append(f"matches {self.matches!r}")
        if self.max is not None:
            parts.append(f"at most {self.max:g}")
        if self.max_items is not None:
            parts.append(f"at most {self.max_items} items")
        return " and ".join(parts)


def _items(value: Any) -> list[Any]:
    """The single values an argument holds: a list's items, or the value itself (never split inside a string)."""
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _items(v)]
    return [value]


def addresses_in(value: Any, depth: int = 0) -> list[str]:
    """Every string that holds an ``@`` anywhere inside an argument (nested lists and dicts too)."""
    if isinstance(value, str):
        return [value] if "@" in value else []
    if depth > 8:
        return []
    if isinstance(value, dict):
        return [a for v in value.values() for a in addresses_in(v, depth + 1)]
    if isinstance(value, (list, tuple, set)):
        return [a for v in value for a in addresses_in(v, depth + 1)]
    return []


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_run: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)


class Grant(BaseModel):
    """Permission to use one tool, optionally only with arguments that meet conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    when: dict[str, Condition] = Field(default_factory=dict)
    limit: RateLimit | None = None
    approval: Literal["policy", "always"] = Field(
        default="policy", description="'always': every call waits for the owner's approval"
    )

    def check_args(self, args: dict[str, Any], free_text: tuple[str, ...] = ()) -> str | None:
        """None if the call's arguments meet every condition, else what is wrong.

        A grant that limits where addresses may go (``domain_in``) limits the whole call: an
        address in an argument the condition does not name (``bcc``, ``options: {cc: [...]}``) must
        be in the union of the grant's domains too, or it would escape the condition. Arguments in
        ``free_text`` (a body, a note) mention addresses without sending anything there; their
        payload is the provenance check's business.
        """
        for name, condition in self.when.items():
            if name not in args or args[name] is None or args[name] == []:
                continue  # an omitted optional argument (or its empty default) takes the tool's safe default
            problem = condition.check(args[name])
            if problem:
                return f"{self.tool}: argument {name!r} {problem}"
        domains = [d for c in self.when.values() if c.domain_in is not None for d in c.domain_in]
        if domains:
            limit = Condition(domain_in=domains)
            for name, value in args.items():
                if name in self.when or name in free_text:
                    continue
                for item in addresses_in(value):
                    if len(item.split()) >= 4:
                        continue  # prose that mentions an address (a body), not a recipient
                    problem = limit.check(item)
                    if problem:
                        return f"{self.tool}: argument {name!r} {problem}"
        return None

    def describe(self) -> str:
        words = [self.tool]
        if self.when:
            words.append("where " + "; ".join(f"{k} {c.describe()}" for k, c in self.when.items()))
        if self.limit and self.limit.per_run is not None:
            words.append(f"at most {self.limit.per_run} per run")
        if self.limit and self.limit.per_day is not None:
            words.append(f"at most {self.limit.per_day} per day")
        if self.approval == "always":
            words.append("always with the owner's approval")
        return ", ".join(words)
