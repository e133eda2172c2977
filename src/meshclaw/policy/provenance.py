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

A mention is not yet intent: the value must stand in the request in the role the call gives it
(``policy.intent``: "read the mail from eve@..., do not reply to her" does not intend eve; "the
3 pm call" does not name item 3). And a lookup the owner asked for finds the owner's objects:
the trusted fields (ids, system fields) of a read whose arguments the owner intended and that
found exactly one object, and of an object this run created, are intended too ("move my 1:1 with
Raj" → search → that event's id). Names outsiders chose stay as their result labels them.

Values are matched as whole tokens of normalised text (``payload.normalise``), not as
substrings, so ``carol@example.co`` is not "found" in ``carol@example.com`` and
``/shared/reports`` is not found in ``/shared/reports/q3.xlsx``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import unquote

from meshclaw.domain.provenance import CONFIG, OWNER, Label, Source, Trust

from . import payload
from .intent import addresses_owner, finditer, intended_at
from .values import LabelledFields, atoms, count, flatten, host_of, identifiers, parts, targets_in

__all__ = ["LabelledFields", "Origin", "ProvenanceTracker", "atoms", "contains", "directory_entries", "flatten",
           "label_for", "seed_run", "targets_in"]

OWN_ADDRESS = "the owner's own address"  # the origin of the owner's address as ``seed_run`` observes it
# Characters that continue an identifier (address, path, host, id): a match must not be glued to them.
_LEFT = r"(?<![\w@.+/-])"
_RIGHT = r"(?![\w@+/-]|\.\w)"
RELAY_WORDS = payload.SHINGLE + payload.RELAY_SHINGLES - 1  # the shortest passage that counts as relayed
_ADDRESS = re.compile(r"^([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)$")
_SIMPLE = re.compile(r"[^\W_]+")
_CODE = re.compile(r"\+?[a-z0-9]*\d[a-z0-9]*(?:[ -][a-z0-9]+){0,12}")  # an IBAN, a card, a phone number, written in groups or not
_CODE_RUN = re.compile(r"(?<![\w+])\+?[a-z]*\d[a-z0-9]*(?:[ -][a-z]*\d[a-z0-9]*)*(?!\w)")  # groups that each hold a digit
_GROUPING = re.compile(r"(?<=[a-z0-9])[ -](?=[a-z0-9])")
# "bob@example.com.Then archive": a full stop before the next sentence, not a domain label ("Partner.Example.org").
_SENTENCE = re.compile(r"(?<=[a-z0-9/])\.(?=[A-Z][a-z]+(?:\s|$|[,;:!?]))")


def _compact(text: str) -> str:
    """Normalised, upper case, without the separators inside a number ("$128,400" → "$128400")."""
    return re.sub(r"(?<=\d)[\s,.'’-](?=\d)", "", payload.normalise(text)).upper()


def _norm(text: str, *, prose: bool = False) -> str:
    if prose:
        text = _SENTENCE.sub(". ", text)
    return payload.normalise(text)


def contains(text: str, needle: str) -> bool:
    """Does ``needle`` occur in ``text`` as a whole token (both already normalised)?"""
    if needle not in text:  # cheap pre-check: most texts do not contain the value at all
        return False
    return re.search(_LEFT + re.escape(needle) + _RIGHT, text) is not None


def _variants(needle: str) -> list[str]:
    """The same value as people write it: a URL with or without its scheme or a trailing slash."""
    out = [needle]
    if payload.URL.fullmatch(needle):
        bare = re.sub(r"^https?://", "", needle).rstrip("/")
        out += [v for v in (needle.rstrip("/"), bare) if v not in out]
    return out


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
    found: list[tuple[str, Label]] = field(default_factory=list)  # the owner's objects, found or created at their request
    _trusted_shingles: set[int] = field(default_factory=set, repr=False)
    _untrusted_shingles: dict[int, tuple[str, Label]] = field(default_factory=dict, repr=False)
    _read_words: set[str] = field(default_factory=set, repr=False)  # words of tool results (data read in this run)
    _owner_words: set[str] = field(default_factory=set, repr=False)  # words of the request and configuration
    _seen: set[tuple[str, Label]] = field(default_factory=set, repr=False)
    # Personal data in what the run read, by its compact value: kind and where it was read (``read_personal_in``).
    _read_personal: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def observe(self, value: Any, label: Label, *, found: bool = False) -> None:
        """Remember what the run saw. ``found``: the owner's own objects (see ``observe_result``)."""
        for piece, lb in parts(value, label):
            raw = flatten(piece)
            text = _norm(raw, prose=lb.source in (Source.OWNER, Source.CONFIG))
            if not text or (text, lb) in self._seen and not found:
                continue
            self._seen.add((text, lb))
            trusted = lb.trust is Trust.TRUSTED
            (self.trusted if trusted else self.untrusted).append((text, lb))
            if trusted and found and lb.source is not Source.OWNER:
                self.found.append((text, lb))
            words = payload._WORD.findall(text)
            simple = _SIMPLE.findall(text)  # "alice-128400" is two words here: data hides in any separator
            if lb.source in (Source.OWNER, Source.CONFIG, Source.DIRECTORY):
                self._owner_words.update(simple)
            else:
                self._read_words.update(simple)
                for kind, datum in payload.personal_data(raw):
                    self._read_personal.setdefault(_compact(datum), (kind, lb.origin or lb.source.value))
            for i in range(len(words) - payload.SHINGLE + 1):
                window = words[i:i + payload.SHINGLE]
                h = payload._h(window)
                if trusted:
                    self._trusted_shingles.add(h)
                else:
                    self._untrusted_shingles.setdefault(h, (" ".join(window), lb))

    def observe_result(self, spec: Any, args: dict[str, Any] | None, value: Any, label: Label) -> None:
        """Remember what a call returned; a lookup the owner asked for, or a creation, finds the owner's objects.

        A read whose every argument value the owner intended and that returned exactly one object
        found that object for the owner: its *trusted* identifier fields (``id``, ``event_id``,
        ``path``...) are the owner's intent, not everything the object says. A write or external
        call that ran created or changed an object at the owner's request (or with a person's
        approval): the identifiers in its result are the owner's too (not the recipients it
        echoes back). Untrusted fields stay untrusted.
        """
        from meshclaw.domain.effects import Effect

        if spec.effect is not Effect.READ:
            # What the call created or changed (its id), not what it echoes back: a send's result
            # repeats its recipients, and they must not become intended for the rest of the run.
            for ident, lb in identifiers(value, label):
                self.observe(ident, lb, found=True)
            self.observe(value, label)
            return
        if args:
            values = [a for v in args.values() if v not in (None, "", [], {}) and not isinstance(v, bool)
                      for a in atoms(v)]
            if values and all(self.origin(a).intent for a in values) and count(value) == 1:
                for ident, lb in identifiers(value, label):
                    self.observe(ident, lb, found=True)
        self.observe(value, label)

    @property
    def tainted(self) -> bool:
        """Has untrusted content entered the run's context?"""
        return bool(self.untrusted)

    def untrusted_origins(self) -> list[str]:
        return sorted({label.origin for _, label in self.untrusted})

    def origin(self, value: str) -> Origin:
        """Where ``value`` came from: the owner's intent first, then a trusted reference, then untrusted content."""
        found: list[Origin] = []
        for needle in _variants(_norm(value)):
            o = self._origin(value, needle)
            if o.intent:
                return o
            found.append(o)
        compact = self._compact_origin(value)
        if compact is not None:
            found.insert(0, compact)
        for trust in ("trusted", "untrusted"):
            best = next((o for o in found if o.trust == trust and o.intent), None) or \
                next((o for o in found if o.trust == trust), None)
            if best is not None:
                return best
        return Origin(value, "unknown", "written by the model")

    def _compact_origin(self, value: str) -> Origin | None:
        """A code the owner wrote in groups ("DE89 3704 0044 ...", "+44 20 7946 0000") used without them,
        or the other way round: compared with spaces and dashes inside it removed."""
        needle = _norm(value)
        if not _CODE.fullmatch(needle):
            return None
        compact = _GROUPING.sub("", needle).lstrip("+")
        if len(compact) < 6:
            return None  # a short number is matched by its role in the request (see policy.intent), never loosely
        for text, label in self.trusted:
            if label.source not in (Source.OWNER, Source.CONFIG, Source.DIRECTORY):
                continue
            if any(_GROUPING.sub("", m.group(0)).lstrip("+") == compact for m in _CODE_RUN.finditer(text)):
                owner = label.source is Source.OWNER
                return Origin(value, "trusted", label.origin or label.source.value, intent=owner)
        return None

    def _origin(self, value: str, needle: str) -> Origin:
        found: Origin | None = None
        for text, label in self.trusted:
            spans = finditer(text, needle, _LEFT, _RIGHT)
            if not spans:
                continue
            where = label.origin or label.source.value
            if label.source is Source.OWNER:
                if any(intended_at(text, a, b, needle) for a, b in spans) or \
                        (label.origin == OWN_ADDRESS and self._owner_asks_to_reach_them()):
                    return Origin(value, "trusted", where, intent=True)
                found = found or Origin(value, "trusted", f"{where}, mentioned but not as a target")
            elif label.source is Source.DIRECTORY and self._owner_names(needle):
                return Origin(value, "trusted", where, intent=True)
            else:
                found = found or Origin(value, "trusted", where)
        for text, label in self.found:
            if contains(text, needle):
                return Origin(value, "trusted", f"{label.origin or label.source.value}, found at the owner's request",
                              intent=True)
        if found is not None:
            return found
        for text, label in self.untrusted:
            if contains(text, needle):
                return Origin(value, "untrusted", label.origin or label.source.value)
        return Origin(value, "unknown", "written by the model")

    def relayed(self, value: Any) -> Origin | None:
        """A passage of untrusted text that ``value`` carries verbatim (normalised), or None.

        ``payload.RELAY_SHINGLES`` distinct informative shingles seen only in untrusted content
        make a passage: the outsider's words, not the model's. Linear in the size of ``value``.
        """
        if not self._untrusted_shingles:
            return None
        hits: list[tuple[str, Label]] = []
        words = payload._WORD.findall(_norm(flatten(value)))
        seen: set[int] = set()
        for i in range(len(words) - payload.SHINGLE + 1):
            window = words[i:i + payload.SHINGLE]
            h = payload._h(window)
            if h in seen or h in self._trusted_shingles or h not in self._untrusted_shingles:
                continue
            if sum(1 for w in window if w not in payload.STOPWORDS) < 3:
                continue
            seen.add(h)
            hits.append(self._untrusted_shingles[h])
            if len(hits) >= payload.RELAY_SHINGLES:
                passage = " ".join(dict.fromkeys(" ".join(t for t, _ in hits).split()))
                label = hits[0][1]
                return Origin(passage, "untrusted", label.origin or label.source.value)
        return None

    def read_data(self, value: str) -> list[str]:
        """Words of ``value`` that came from data read in this run and not from the owner or the config.

        Only words that carry information count: numbers of three digits or more, and words of
        six letters or more; ``value`` is URL-decoded first.
        """
        words = _SIMPLE.findall(payload.normalise(unquote(unquote(value))))
        return [w for w in dict.fromkeys(words) if w in self._read_words and w not in self._owner_words
                and ((sum(c.isdigit() for c in w) >= 3) or (len(w) >= 6 and w not in payload.STOPWORDS))]

    def read_personal_in(self, text: str) -> list[tuple[str, str, str]]:
        """``(kind, value, where it was read)`` of personal data this run read that ``text`` carries.

        A value is personal where it was read ("Dave's salary is $128,400", "passport number
        X12345678") and stays so wherever it is written, with or without the words that made it
        recognisable ("Dave: 128,400"). Compared without the separators inside a number; values
        shorter than five characters are left out (they coincide with ordinary numbers).
        """
        if not self._read_personal:
            return []
        compact = _compact(text)
        return [(kind, value, where) for value, (kind, where) in self._read_personal.items()
                if len(value.rstrip("K")) >= 5 and value in compact
                and re.search(rf"(?<![A-Z0-9]){re.escape(value)}(?![A-Z0-9])", compact)]

    def seen_verbatim(self, value: str) -> bool:
        """Does ``value`` appear whole in anything the run saw (so nobody composed it in this run)?"""
        needle = _norm(value)
        return any(contains(text, needle) for text, _ in self.trusted + self.untrusted)

    def owner_asks_for(self, words: Iterable[str]) -> bool:
        """Does the owner's request use one of ``words`` (a kind of data it asks to send)?"""
        owner = [text for text, label in self.trusted if label.source is Source.OWNER]
        return any(re.search(rf"\b{re.escape(w)}", text) for w in words for text in owner)

    def in_owner_text(self, value: str) -> bool:
        needle = _norm(value)
        return any(needle in text for text, label in self.trusted if label.source in (Source.OWNER, Source.CONFIG))

    def host_trusted(self, link: str) -> bool:
        """Is the host of a URL (or the domain of an address), or a parent domain of it, named by the owner,
        the configuration or the directory (the organisation's domains)?

        Tool output does not count: a trusted field can still name an outsider (a chat guest's
        authenticated identity), and that does not make links to the outsider's domain the owner's.
        """
        labels = host_of(link).split(".")
        own = [(t, lb) for t, lb in self.trusted if lb.source in (Source.OWNER, Source.CONFIG, Source.DIRECTORY)]
        return any(self._host_in(".".join(labels[i:]), own) for i in range(len(labels) - 1))

    def host_untrusted(self, link: str) -> bool:
        """Is the host of a URL known only from untrusted content?"""
        host = host_of(link)
        return bool(host) and not self.host_trusted(link) and self._host_in(host, self.untrusted)

    @staticmethod
    def _host_in(host: str, texts: list[tuple[str, Label]]) -> bool:
        if not host:
            return False
        pattern = re.compile(r"(?<![\w-])" + re.escape(host) + r"(?![\w-]|\.\w)")
        return any(host in text and pattern.search(text) for text, _ in texts)

    def _owner_asks_to_reach_them(self) -> bool:
        """Does the owner's request ask for something to reach the owner ("email me the summary")?
        Then the owner's own address is intended, though the request never writes it."""
        return any(addresses_owner(text) for text, label in self.trusted
                   if label.source is Source.OWNER and label.origin != OWN_ADDRESS)

    def _owner_names(self, address: str) -> bool:
        """Does the owner's request name the person behind this directory address ("Carol" → carol@...)?

        Every word of the address's local part must appear as a word of the request, in a role
        the request gives it (not only "the mail from Carol"). The directory as observed holds
        addresses, not display names, so a functional mailbox (finance@) counts as named whenever
        the request uses its word ("the finance close").
        """
        m = _ADDRESS.match(address)
        if m is None:
            return False
        words = [w for w in re.split(r"[._+-]", m.group(1)) if w]
        owner = [text for text, label in self.trusted if label.source is Source.OWNER]
        if not words:
            return False
        for text in owner:
            if all(any(intended_at(text, x.start(), x.end(), w, person=True) for x in re.finditer(rf"\b{re.escape(w)}\b", text))
                   for w in words):
                return True
        return False

    def trace(self, args: dict[str, Any], names: tuple[str, ...]) -> dict[str, list[Origin]]:
        """Where each value of the named arguments came from, plus addresses and URLs held in any other argument."""
        out = {n: [self.origin(a) for a in atoms(args[n])] for n in names if n in args}
        for n, v in args.items():
            if n not in names:
                extra = targets_in(v)
                if extra:
                    out[n] = [self.origin(a) for a in extra]
        return out


def label_for(spec: Any, value: Any) -> tuple[Any, Label]:
    """What a tool returned, and how far it can be trusted (its spec's output_trust, or the value's own label)."""
    from meshclaw.domain.provenance import Labelled, Source

    if isinstance(value, Labelled):
        return value.value, value.label
    if spec.output_trust == "untrusted":
        return value, Label(Source.EXTERNAL, Trust.UNTRUSTED, f"output of {spec.name}")
    return value, Label(Source.TOOL, Trust.TRUSTED, f"output of {spec.name}")


def seed_run(tracker: ProvenanceTracker, *, request: str | None, instructions: str | None,
             owner_email: str | None = None, directory: Iterable[str] = (), owner_ids: Iterable[str] = (),
             options: dict[str, Any] | None = None) -> None:
    """What every run (an agent run or a library session) knows before it reads anything.

    The one place that seeds a run's provenance: the owner's request (intent), the agent's
    instructions (configuration), the owner's own address, user id and chat accounts ("email me the
    summary", "brief me"), and the
    organisation's directory — people written as ``Name <address>`` so that a request naming a
    person covers that person's address, plus user ids and mail domains. The agent's ``options``
    (``agents add --option``: set by its owner, a delegate or an admin, like a trigger's task) are the
    owner's word too, as ``name: value`` lines: ``team_channel: team`` names where a workflow posts.
    """
    if request:
        tracker.observe(request, OWNER)
    if options:
        tracker.observe("\n".join(f"{k}: {v}" for k, v in sorted(options.items())),
                        Label(Source.OWNER, Trust.TRUSTED, "the agent's options, set by its owner"))
    if instructions:
        tracker.observe(instructions, CONFIG)
    # The owner's own identities (address, user id, chat accounts): intended as a target only where the
    # request asks for something to reach the owner ("email me", "brief me"), never an outside party.
    for own in [owner_email, *owner_ids]:
        if own:
            tracker.observe(own, Label(Source.OWNER, Trust.TRUSTED, OWN_ADDRESS))
    entries = [d for d in directory if d]
    if entries:
        tracker.observe("; ".join(entries), Label(Source.DIRECTORY, Trust.TRUSTED, "the organisation's directory"))


def directory_entries(config: Any) -> list[str]:
    """The organisation's directory as seeded into a run: ``Name <address>``, user ids, mail domains."""
    people = [f"{u.name} <{u.email}>" if u.email else u.name for u in config.users]
    return people + [u.id for u in config.users] + list(config.organisation.domains)
