"""A service's health: its process state plus, when configured, an HTTP health URL.

Healthy means running and (when a health URL is set) the URL answering 2xx within
``settings.health_timeout`` seconds. With no health URL the verdict rests on the process state
alone, and says so (``basis``). The controller does the checking: nothing inside the container
or program is asked to report on itself. A backend with a ``probe(service, url, timeout)`` method
answers the health URL itself (the sandbox: the answer is kept in the store, nothing is fetched);
the verdict is made here all the same.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from .backend import ServiceState
from .settings import DeploySettings

BODY_KEPT = 200  # characters of a health answer shown (the service wrote them: outside content)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


@dataclass(frozen=True)
class HttpCheck:
    url: str
    ok: bool
    status: int | None
    ms: float
    error: str = ""
    body: str = ""


@dataclass(frozen=True)
class Health:
    """``status``: "healthy" or "failing"; ``basis`` says what it rests on."""

    service: str
    version: str | None
    state: ServiceState
    status: str
    basis: str
    http: HttpCheck | None
    checked_at: float  # time.time() of the check

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"

    def reason(self) -> str:
        """Why it is failing, in a few words (empty when healthy)."""
        if self.healthy:
            return ""
        if not self.state.running:
            return f"process {self.state.state}" + (f" ({self.state.detail})" if self.state.detail else "")
        assert self.http is not None
        return f"health URL {self.http.error or f'answered HTTP {self.http.status}'}"


def check_http(url: str, timeout: float) -> HttpCheck:
    """GET ``url`` once: ok for a 2xx answer; never raises."""
    started = time.perf_counter()
    try:
        with _OPENER.open(urllib.request.Request(url, headers={"User-Agent": "meshclaw-health"}), timeout=timeout) as r:
            body = r.read(4096).decode("utf-8", errors="replace")
            status = r.status
        return HttpCheck(url, 200 <= status < 300, status, _ms(started), body=body[:BODY_KEPT])
    except urllib.error.HTTPError as e:
        return HttpCheck(url, False, e.code, _ms(started), body=e.read(4096).decode("utf-8", "replace")[:BODY_KEPT])
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return HttpCheck(url, False, None, _ms(started), error=f"did not answer: {reason}"[:200])


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def prober(backend: Any) -> Callable[[str, str, float], HttpCheck] | None:
    """The backend's own health probe (the sandbox's), or None: the URL is fetched over HTTP."""
    return getattr(backend, "probe", None)


def assess(settings: DeploySettings, state: ServiceState,
           probe: Callable[[str, str, float], HttpCheck] | None = None) -> Health:
    """The health of ``state``'s service: checks its health URL (if any) only when the process runs.

    ``probe(service, url, timeout)`` answers the URL instead of an HTTP GET (``prober(backend)``)."""
    url = settings.services[state.name].health_url
    now = time.time()
    if url is None:
        return Health(state.name, state.version, state, "healthy" if state.running else "failing",
                      "process state only: no health URL is configured for this service", None, now)
    if not state.running:
        return Health(state.name, state.version, state, "failing", "process state (not running; URL not checked)",
                      None, now)
    http = probe(state.name, url, settings.health_timeout) if probe is not None else \
        check_http(url, settings.health_timeout)
    return Health(state.name, state.version, state, "healthy" if http.ok else "failing",
                  "process state and health URL", http, now)


def wait_healthy(settings: DeploySettings, backend: Any, service: str, seconds: float) -> Health:
    """Check every 0.2 s for up to ``seconds`` until the service is healthy; the last check."""
    deadline = time.monotonic() + seconds
    while True:
        health = assess(settings, backend.state(service), prober(backend))
        if health.healthy or time.monotonic() >= deadline:
            return health
        time.sleep(0.2)
