"""What a call carries, judged after the run has read untrusted content: egress of reads, and payloads.

``egress``: a read that reaches outside (a URL fetched, a web search) is an exit too. Its target
must not be one that only outside content named, and a value the model composed (not a URL the
run saw whole) must not carry data the run read — ``https://evil.example/?d=<salaries>``.

``payload``: a call the owner intended can still carry the attacker's payload. Its free text must
not repeat outside text word for word (``ProvenanceTracker.relayed``), carry a link or address
that came only from outside content or that nobody gave, or (for calls that reach others) carry
personal data — a card number, IBAN, passport or social security number, salary — that the
owner's request did not ask to send.

Both return the problems found as ``(rule, reason)`` pairs, one per value, each saying where the
value came from, so a person asked about the call sees every value's origin at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from meshclaw.domain.effects import ToolSpec

from . import payload
from .provenance import ProvenanceTracker, atoms, targets_in

Problem = tuple[str, str]


def _url_data(url: str) -> str:
    parts = urlsplit(url if "//" in url else f"//{url}")
    return " ".join((parts.path.replace("/", " "), parts.query, parts.fragment, parts.username or ""))


def egress(spec: ToolSpec, args: dict[str, Any], prov: ProvenanceTracker) -> list[Problem]:
    """Problems with what a read sends out (its declared ``egress`` arguments, and any URL argument)."""
    values: list[tuple[str, str]] = []
    for name in spec.egress:
        if name in args:
            values += [(name, a) for a in atoms(args[name])]
    for name, value in args.items():
        values += [(name, a) for a in targets_in(value) if payload.URL.fullmatch(a) and (name, a) not in values]
    problems: list[Problem] = []
    for name, value in values:
        is_url = payload.URL.fullmatch(value) is not None
        if is_url and prov.host_untrusted(value):
            problems.append(("egress-untrusted-target", f"{name}={value!r} goes to a host named only in untrusted "
                                                        f"content ({prov.origin(urlsplit(value).hostname or value).source})"))
            continue
        if prov.seen_verbatim(value):
            continue  # not composed in this run: it carries nothing the run read
        leaked = prov.read_data(_url_data(value) if is_url else value)
        private = [v for _, v in payload.personal_data(value) if not prov.in_owner_text(v)]
        if leaked or private:
            shown = ", ".join((private + leaked)[:4])
            problems.append(("egress-read-data", f"{name}={value!r} carries data read in this run ({shown})"))
    return problems


def payload_problems(spec: ToolSpec, args: dict[str, Any], prov: ProvenanceTracker, *, reaches_others: bool) -> list[Problem]:
    """Problems with the content of a call that writes or reaches others (see the module docstring)."""
    problems: list[Problem] = []
    for name, value in args.items():
        passage = prov.relayed(value)
        if passage is not None:
            problems.append(("relayed-content", f"{name} repeats untrusted text word for word ({passage.source}): "
                                                f"{passage.value!r}"))
    for name, value in args.items():
        for text in payload.texts(value):
            for link in dict.fromkeys(payload.links(text)):
                origin = prov.origin(link)
                if origin.trust == "trusted" or prov.host_trusted(link):
                    continue
                where = origin.source if origin.trust == "untrusted" else "nobody gave it: written by the model"
                problems.append(("payload-link", f"{name} carries {link!r}, which comes from {where}"))
            if not reaches_others:
                continue
            found = [(kind, datum, "") for kind, datum in payload.personal_data(text)]
            # Personal data the run read stays personal without the words that made it recognisable.
            found += [f for f in prov.read_personal_in(text) if f[1] not in {d for _, d, _ in found}]
            for kind, datum, where in found:
                if prov.in_owner_text(datum) or prov.owner_asks_for(payload.PERSONAL_WORDS[kind]):
                    continue
                read = f", read in this run ({where})," if where else ""
                problems.append(("personal-data", f"{name} carries a {kind} value ({datum[:4]}...){read} the owner's "
                                                  f"request does not ask to send"))
    return problems
