"""What an approval covers: one key for agent runs and the library alike.

A person who approves a call approves exactly that call: the key is the tool's name and a
SHA-256 digest of *all* its arguments in canonical JSON, so another body to the same person,
one more recipient, or any later call of a tool without sensitive arguments is a different key,
and a long argument is never cut short.

A person may choose a wider scope explicitly: ``"targets"`` covers every call of the tool with the
same values of its sensitive arguments (recipients, targets, identifiers), whatever else it says.
A tool that declares no sensitive arguments has no wider scope: ``"targets"`` is then ``"call"``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from meshclaw.domain.effects import ToolSpec

Scope = Literal["call", "targets"]
SCOPES: tuple[str, ...] = ("call", "targets")


def _digest(values: dict[str, Any]) -> str:
    material = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def approval_key(spec: ToolSpec, args: dict[str, Any], scope: Scope = "call") -> str:
    """``"<tool>:<sha256 hex>"`` of all arguments (``scope="call"``), or
    ``"<tool>[targets]:<sha256 hex>"`` of the sensitive arguments' values (``scope="targets"``).

    Raises ValueError for an unknown scope.
    """
    if scope not in SCOPES:
        raise ValueError(f"approval scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if scope == "targets" and spec.sensitive_args:
        return f"{spec.name}[targets]:{_digest({n: args.get(n) for n in spec.sensitive_args})}"
    return f"{spec.name}:{_digest(dict(args))}"


def approval_keys(spec: ToolSpec, args: dict[str, Any]) -> tuple[str, ...]:
    """Every key whose approval would cover this call: the exact call's, then the targets-scope one."""
    keys = [approval_key(spec, args, "call")]
    if spec.sensitive_args:
        keys.append(approval_key(spec, args, "targets"))
    return tuple(keys)


def is_approved(spec: ToolSpec, args: dict[str, Any], approved: set[str]) -> bool:
    """Did a person approve this call, exactly or by an explicit wider scope?"""
    return any(k in approved for k in approval_keys(spec, args))
