"""What an approval covers: one key for agent runs and the library alike.

A person who approves a call approves that tool with those values of its sensitive arguments
(all of its arguments when the tool declares none). The key is the tool's name and a SHA-256
digest of those values in canonical JSON, so a long argument is never cut short: a list with one
more recipient appended is a different key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from meshclaw.domain.effects import ToolSpec


def approval_key(spec: ToolSpec, args: dict[str, Any]) -> str:
    """``"<tool>:<sha256 hex>"`` of the sensitive arguments' values (all arguments if none are declared)."""
    names = spec.sensitive_args or tuple(sorted(args))
    material = json.dumps({n: args.get(n) for n in names}, sort_keys=True, ensure_ascii=False, default=str)
    return f"{spec.name}:{hashlib.sha256(material.encode()).hexdigest()}"
