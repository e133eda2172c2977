"""The guard's verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    rule: str = ""  # which rule decided, for audit and `grants show`

    @classmethod
    def allow(cls, reason: str, rule: str = "") -> "Decision":
        return cls(Verdict.ALLOW, reason, rule)

    @classmethod
    def ask(cls, reason: str, rule: str = "") -> "Decision":
        return cls(Verdict.ASK, reason, rule)

    @classmethod
    def deny(cls, reason: str, rule: str = "") -> "Decision":
        return cls(Verdict.DENY, reason, rule)
