"""Grants: what an agent may do with each tool, with argument conditions a person can read.

Deny by default: a tool with no grant is never offered to the model and never runs.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
            for address in _addresses(value):
                domain = address.rpartition("@")[2].lower()
                if "@" not in address or domain not in allowed:
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


def _addresses(value: Any) -> list[str]:
    if isinstance(value, str):
        return [a.strip().rsplit("<", 1)[-1].rstrip(">").strip() for a in value.split(",") if a.strip()]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _addresses(v)]
    return [repr(value)]


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

    def check_args(self, args: dict[str, Any]) -> str | None:
        for name, condition in self.when.items():
            if name not in args or args[name] is None or args[name] == []:
                continue  # an omitted optional argument (or its empty default) takes the tool's safe default
            problem = condition.check(args[name])
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
