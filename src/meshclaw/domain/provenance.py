"""Provenance labels: where a piece of content came from and whether it may steer actions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    OWNER = "owner"  # the employee's own request
    CONFIG = "config"  # the agent's configuration, written by its owner or an admin
    DIRECTORY = "directory"  # the organisation's directory (people, domains)
    TOOL = "tool"  # a tool's own output about the organisation's systems
    EXTERNAL = "external"  # anything an outsider could have written: mail, chat, web pages


class Trust(StrEnum):
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class Label:
    source: Source
    trust: Trust
    origin: str = ""  # human-readable: "mail from eve@example.net", "tool email.read"

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source.value, "trust": self.trust.value, "origin": self.origin}


OWNER = Label(Source.OWNER, Trust.TRUSTED, "the owner's request")
CONFIG = Label(Source.CONFIG, Trust.TRUSTED, "the agent's configuration")


@dataclass(frozen=True)
class Labelled:
    """A tool result with an explicit label, for tools whose output mixes trusted and untrusted parts."""

    value: Any
    label: Label
