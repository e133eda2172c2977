"""The values inside tool results and call arguments: labelled fields, single values, identifiers, hosts.

What ``policy.provenance`` reasons about, split out so that module is about tracking only.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator
from urllib.parse import urlsplit

from meshclaw.domain.addresses import address_or_none
from meshclaw.domain.provenance import Label

from . import payload


def flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def atoms(value: Any) -> list[str]:
    """The individual values an argument carries: each string, each list item, each dict value.

    A string is one value: ``"<eve@outside.test> bob@example.com"`` is not split into two
    addresses (it is not an address at all, see ``domain.addresses``); an address written with a
    display name is traced by its address.
    """
    if isinstance(value, str):
        text = value.strip()
        if "@" in text and "<" in text:
            text = address_or_none(text) or text
        return [text] if text else []
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in atoms(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in atoms(v)]
    if value is None:
        return []
    return [str(value)]


def targets_in(value: Any, depth: int = 0) -> list[str]:
    """Addresses and URLs held as structured values anywhere inside an argument (not inside prose)."""
    if isinstance(value, str):
        text = value.strip()
        if payload.is_text(text):
            return []
        if "@" in text or payload.URL.fullmatch(text):
            return atoms(text)
        return []
    if depth > 8:
        return []
    if isinstance(value, dict):
        return [a for v in value.values() for a in targets_in(v, depth + 1)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in targets_in(v, depth + 1)]
    return []


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


def parts(value: Any, label: Label) -> Iterator[tuple[Any, Label]]:
    """The pieces of a result with the label each carries; a plain result is one piece."""
    if isinstance(value, LabelledFields):
        for key, item in value.items():
            yield from parts(item, value.labels.get(key, label))
    elif has_fields(value):
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            yield from parts(item, label)
    else:
        yield value, label


def has_fields(value: Any, depth: int = 0) -> bool:
    if isinstance(value, LabelledFields):
        return True
    if depth > 6:
        return False
    if isinstance(value, dict):
        return any(has_fields(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_fields(v, depth + 1) for v in value)
    return False


def count(value: Any) -> int:
    """How many objects a result holds: a list's length (or that of the only list inside a dict), else 1."""
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, (list, tuple)) and v and isinstance(v[0], dict)]
        return len(lists[0]) if len(lists) == 1 else 1
    return 1


_ID_KEY = re.compile(r"^(?:id|uid|uuid|key|path|href|created|[a-z]+_(?:id|uid))$")


def identifiers(value: Any, label: Label, depth: int = 0) -> Iterator[tuple[Any, Label]]:
    """The identifier fields (``id``, ``uid``, ``event_id``, ``path`` ...) of a result, with their labels:
    what names the object a lookup found, as opposed to what the object says."""
    if depth > 4:
        return
    if isinstance(value, dict):
        labels = value.labels if isinstance(value, LabelledFields) else {}
        for key, item in value.items():
            lb = labels.get(key, label)
            if isinstance(key, str) and _ID_KEY.match(key) and isinstance(item, (str, int)) and not isinstance(item, bool):
                yield item, lb
            elif isinstance(item, (dict, list, tuple)):
                yield from identifiers(item, lb, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from identifiers(item, label, depth + 1)


def host_of(link: str) -> str:
    """The host of a URL, or the domain of an address, lower-cased; "" if there is none."""
    address = address_or_none(link)
    if address:
        return address.rpartition("@")[2]
    return (urlsplit(link if "//" in link else f"//{link}").hostname or "").lower()
