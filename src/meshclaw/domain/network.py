"""Small network facts the configuration checks rely on."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses. Names are not resolved: DNS could point anywhere."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
