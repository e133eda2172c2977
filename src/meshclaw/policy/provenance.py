"""Tracking what a run has read, and where each argument of a call came from.

A value that appears in the owner's request, the agent's configuration or the organisation's
directory is traceable to a trusted source. A value that appears only in content an outsider
could have written (mail, chat, web, tool output marked untrusted) is untrusted. A value that
appears nowhere was made up by the model; after untrusted content has entered the run, the model
itself may be steered, so such a value is not trusted for a consequential call either.

Trusted values are further split by whether they express the owner's *intent* for this run:
a value in the owner's request is intended, and so is a directory entry for a person the request
names ("reply to Carol" intends carol@example.com). Everything else trusted — the rest of the
directory, the agent's standing instructions, any trusted tool output — is a valid *reference*:
a real person or object, but once an outsider's words are in the model's context, the choice to
act on it may be the outsider's. (Before that, every choice the model makes is the owner's.)

Values are matched as whole tokens, not as substrings, so ``carol@example.co`` is not "found" in
``carol@example.com`` and ``/shared/reports`` is not found in ``/shared/reports/q3.xlsx``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from meshclaw.domain.provenance import CONFIG, OWNER, Label, Source, Trust

# Characters that continue an identifier (address, path, host, id): a match must not be glued to them.
_LEFT = r"(?<![\w@.+/-])"
_RIGHT = r"(?![\w@+/-]|\.\w)"
RELAY_WORDS = 8  # shorter runs of words coincide by chance ("please let me know if you have any")
_ADDRESS = re.compile(r"^([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)$")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def atoms(value: Any) -> list[str]:
    """The individual values an argument carries: each string, each list item, each address."""
    if isinstance(value, str):
        parts = [p.strip() for p in re.split(r"[,;]", value)] if "@" in value else [value.strip()]
        return [p for p in parts if p]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in atoms(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in atoms(v)]
    if value is None:
        return []
    return [str(value)]


class LabelledFields(dict):
    """A tool result whose fields carry their own labels: trusted metadata next to untrusted text.

    ``labels`` maps keys of this dict to a label; a key without one inherits the label of the
    result as a whole (for a tool with untrusted output: untrusted), so forgetting a label fails
    closed. Values may nest further ``LabelledFields``. The model sees an ordinary dict.

    Only code builds this type, so content (a mail, a JSON document from a server) cannot claim a
    trusted label for itself: a tool that returns it vouches for its labels, just as a tool
    vouches for its ``output_trust``.
    """

    def __init__(self, values: dict[str, Any], labels: dict[str, Label] | None = None):
        super().__init__(values)
        self.labels: dict[str, Label] = dict(labels or {})


def _parts(value: Any, label: Label) -> Iterator[tuple[Any, Label]]:
    """The pieces of a result with the label each carries; a plain result is one piece."""
    if isinstance(value, LabelledFields):
        for key, item in value.items():
            yield from _parts(item, value.labels.get(key, label))
    elif _has_fields(value):
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            yield from _parts(item, label)
    else:
        yield value, label


def _has_fields(value: Any, depth: int = 0) -> bool:
    if isinstance(value, LabelledFields):
        return True
    if depth > 6:
        return False
    if isinstance(value, dict):
        return any(_has_fields(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_fields(v, depth + 1) for v in value)
    return False


def contains(text: str, needle: str) -> bool:
    """Does ``needle`` occur in ``text`` as a whole token (both already normalised)?"""
    if needle not in text:  # cheap pre-check: most texts do not contain the value at all
        return False
    return re.search(_LEFT + re.escape(needle) + _RIGHT, text) is not None


@dataclass
class Origin:
    value: str
    trust: str  # "trusted" | "untrusted" | "unknown"
    source: str  # what it was traced to, in words
    intent: bool = False  # trusted *and* traceable to what the owner asked for in this run


@dataclass
class ProvenanceTracker:
    """Everything one run has seen, with labels. Rebuilt identically when a durable run replays."""

    trusted: list[tuple[str, Label]] = field(default_factory=list)
    untrusted: list[tuple[str, Label]] = field(default_factory=list)

    def observe(self, value: Any, label: Label) -> None:
        for piece, lb in _parts(value, label):
            text = _norm(flatten(piece))
            if text:
                (self.trusted if lb.trust is Trust.TRUSTED else self.untrusted).append((text, lb))

    @property
    def tainted(self) -> bool:
        """Has untrusted content entered the run's context?"""
        return bool(self.untrusted)

    def untrusted_origins(self) -> list[str]:
        return sorted({label.origin for _, label in self.untrusted})

    def origin(self, value: str) -> Origin:
        needle = _norm(value)
        found: Origin | None = None
        for text, label in self.trusted:
            if contains(text, needle):
                where = label.origin or label.source.value
                if label.source is Source.OWNER or (label.source is Source.DIRECTORY and self._owner_names(needle)):
                    return Origin(value, "trusted", where, intent=True)
                found = found or Origin(value, "trusted", where)
        if found is not None:
            return found
        for text, label in self.untrusted:
            if contains(text, needle):
                return Origin(value, "untrusted", label.origin or label.source.value)
        return Origin(value, "unknown", "written by the model")

    def relayed(self, value: Any) -> Origin | None:
        """A passage of untrusted text (RELAY_WORDS words or more) that ``value`` carries verbatim.

        Such a passage is the outsider's words, not the model's: a consequential call that carries
        it (a post, a mail body, a comment) relays them to wherever the call goes.
        """
        words = _norm(flatten(value)).split(" ")
        if not self.untrusted or len(words) < RELAY_WORDS:
            return None
        for i in range(len(words) - RELAY_WORDS + 1):
            passage = " ".join(words[i:i + RELAY_WORDS])
            if any(passage in text for text, _ in self.trusted):
                continue  # the owner (or a trusted source) said it too
            for text, label in self.untrusted:
                if passage in text:
                    return Origin(passage, "untrusted", label.origin or label.source.value)
        return None

    def _owner_names(self, address: str) -> bool:
        """Does the owner's request name the person behind this directory address ("Carol" → carol@...)?

        Every word of the address's local part must appear as a word of the request. The directory
        as observed holds addresses, not display names, so a functional mailbox (finance@) counts
        as named whenever the request uses its word ("the finance close").
        """
        m = _ADDRESS.match(address)
        if m is None:
            return False
        words = [w for w in re.split(r"[._+-]", m.group(1)) if w]
        owner = [text for text, label in self.trusted if label.source is Source.OWNER]
        return bool(words) and any(all(re.search(rf"\b{re.escape(w)}\b", text) for w in words) for text in owner)

    def trace(self, args: dict[str, Any], names: tuple[str, ...]) -> dict[str, list[Origin]]:
        return {n: [self.origin(a) for a in atoms(args[n])] for n in names if n in args}


def label_for(spec: Any, value: Any) -> tuple[Any, Label]:
    """What a tool returned, and how far it can be trusted (its spec's output_trust, or the value's own label)."""
    from meshclaw.domain.provenance import Labelled, Source

    if isinstance(value, Labelled):
        return value.value, value.label
    if spec.output_trust == "untrusted":
        return value, Label(Source.EXTERNAL, Trust.UNTRUSTED, f"output of {spec.name}")
    return value, Label(Source.TOOL, Trust.TRUSTED, f"output of {spec.name}")


def seed_run(tracker: ProvenanceTracker, *, request: str | None, instructions: str | None,
             owner_email: str | None = None, directory: Iterable[str] = ()) -> None:
    """What every run (an agent run or a library session) knows before it reads anything.

    The one place that seeds a run's provenance: the owner's request (intent), the agent's
    instructions (configuration), the owner's own address ("email me the summary"), and the
    organisation's directory — people written as ``Name <address>`` so that a request naming a
    person covers that person's address, plus user ids and mail domains.
    """
    if request:
        tracker.observe(request, OWNER)
    if instructions:
        tracker.observe(instructions, CONFIG)
    if owner_email:
        tracker.observe(owner_email, Label(Source.OWNER, Trust.TRUSTED, "the owner's own address"))
    entries = [d for d in directory if d]
    if entries:
        tracker.observe("; ".join(entries), Label(Source.DIRECTORY, Trust.TRUSTED, "the organisation's directory"))


def directory_entries(config: Any) -> list[str]:
    """The organisation's directory as seeded into a run: ``Name <address>``, user ids, mail domains."""
    people = [f"{u.name} <{u.email}>" if u.email else u.name for u in config.users]
    return people + [u.id for u in config.users] + list(config.organisation.domains)
