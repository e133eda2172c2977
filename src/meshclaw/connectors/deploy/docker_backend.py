"""Containers through the Docker Engine API (the ``docker`` SDK), which Podman's service also speaks.

A service is the containers labelled ``io.meshclaw.service=<name>``; the one running (else the
newest) is the current one. Each container carries its version and the service's deploy history
(labels ``io.meshclaw.version`` and ``io.meshclaw.history``, JSON, newest last), so the record
lives with the containers themselves: a deploy under an idempotency key already in any of the
service's containers' history is not started again.

Deploy: create the new container from ``<image>:<version>`` (its labels record the deploy),
stop the current one, start the new one, and remove containers older than the one replaced
(kept stopped for its logs). Images are never pulled: a version is a tag present on that host.
"""

from __future__ import annotations

import json
import re
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from .backend import HISTORY_KEPT, Deployment, ServiceState, failure, retrying, short_key
from .errors import DeployError, DeployNotFound, DeployTimeout, DeployUncertain
from .settings import DeploySettings

API_VERSION = "1.41"  # Docker 20.10+ and Podman 4 speak it; naming it saves a /version round trip
LABEL = "io.meshclaw."
_TIMEOUTS = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
_TRANSIENT = _TIMEOUTS + (requests.exceptions.ConnectionError, ConnectionError)
_STATES = {"running": "running", "created": "stopped", "exited": "exited", "paused": "stopped",
           "restarting": "starting", "dead": "failed", "removing": "stopped", "stopped": "stopped",
           "configured": "stopped"}


def _history(container: Any) -> list[Deployment]:
    try:
        raw = json.loads(container.labels.get(LABEL + "history", "[]"))
        return [Deployment(**d) for d in raw]
    except (ValueError, TypeError):
        return []


class DockerBackend:
    """Deploy backend over the Docker API at ``settings.url`` (see the module docstring)."""

    def __init__(self, settings: DeploySettings):
        self.settings = settings
        try:
            self.client = docker.DockerClient(base_url=settings.url, version=API_VERSION, timeout=settings.timeout)
        except docker.errors.DockerException as e:
            raise DeployError(f"cannot use the Docker API at {settings.url}: {e}") from None

    def close(self) -> None:
        self.client.close()

    # --- reads (retried) ---------------------------------------------------------------------------

    def _read(self, what: str, fn: Any) -> Any:
        try:
            return retrying(self.settings, what, fn, _TRANSIENT, _TIMEOUTS)
        except docker.errors.APIError as e:
            raise DeployError(f"the Docker API refused {what}: {e.explanation or e}") from None

    def _containers(self, service: str) -> list[Any]:
        """The service's containers, newest first."""
        found = self._read(f"listing {service}'s containers", lambda: self.client.containers.list(
            all=True, filters={"label": f"{LABEL}service={service}"}))
        return sorted(found, key=lambda c: c.attrs.get("Created", ""), reverse=True)

    @staticmethod
    def _current(containers: list[Any]) -> Any | None:
        running = [c for c in containers if c.status == "running"]
        return running[0] if running else (containers[0] if containers else None)

    def _state_of(self, service: str, containers: list[Any]) -> ServiceState:
        current = self._current(containers)
        if current is None:
            return ServiceState(service, None, "missing", detail="no container of this service exists yet")
        st = current.attrs.get("State", {})
        state = _STATES.get(current.status, current.status)
        since = st.get("StartedAt") if state == "running" else st.get("FinishedAt")
        detail = "" if state == "running" else f"exit code {st.get('ExitCode')}" + (
            f", {st['Error']}" if st.get("Error") else "")
        return ServiceState(service, current.labels.get(LABEL + "version"), state, since=since or None,
                            detail=detail, history=tuple(_history(current)))

    def state(self, service: str) -> ServiceState:
        self._known(service)
        return self._state_of(service, self._containers(service))

    def versions(self, service: str) -> list[str]:
        image = self._known(service).image
        images = self._read(f"listing the images of {image}", lambda: self.client.images.list(name=image))
        tags = {t.rpartition(":")[2] for i in images for t in i.tags if t.rpartition(":")[0] == image}
        return sorted(tags)

    def logs(self, service: str, lines: int) -> list[str]:
        current = self._current(self._containers(service))
        if current is None:
            return []
        raw = self._read(f"reading {service}'s logs", lambda: current.logs(tail=lines, stdout=True, stderr=True))
        return raw.decode("utf-8", errors="replace").splitlines()[-lines:]

    # --- the deploy (each change made once) ------------------------------------------------------

    def _change(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except _TRANSIENT as e:
            raise failure(self.settings, what, e, _TIMEOUTS, changing=True) from None
        except docker.errors.APIError as e:
            raise DeployError(f"the Docker API refused {what}: {e.explanation or e}") from None

    def deploy(self, service: str, version: str, key: str, kind: str) -> tuple[ServiceState, bool]:
        spec = self._known(service)
        containers = self._containers(service)
        for c in containers:  # this very deploy already started: never again
            done = next((d for d in _history(c) if d.key == key), None)
            if done is None:
                continue
            if c.labels.get(LABEL + "deploy-key") == key and c.status != "running" and c is containers[0]:
                raise DeployUncertain(
                    f"an earlier attempt of this {kind} of {service} to {done.version} (started {done.at}) created "
                    f"its container {c.name} but did not visibly finish (it is {c.status}): it is not started "
                    f"again automatically; check the service, then deploy again")
            return self._state_of(service, containers), False
        if version not in self.versions(service):
            raise DeployNotFound(f"{service} has no version {version!r} on this host (image {spec.image}); "
                                 f"versions: {', '.join(self.versions(service)) or 'none'}")
        current = self._current(containers)
        history = _history(current) if current is not None else []
        previous = current.labels.get(LABEL + "version") if current is not None else None
        record = Deployment.new(version, key, kind, previous)
        history = (history + [record])[-HISTORY_KEPT:]
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{service}-{version}-{short_key(key)}")
        labels = {LABEL + "service": service, LABEL + "version": version, LABEL + "deploy-key": key,
                  LABEL + "history": json.dumps([d.as_dict() for d in history])}
        ports = {f"{c}/tcp": ("127.0.0.1", h) for c, h in spec.ports.items()}
        new = self._change(f"creating {name}", lambda: self.client.containers.create(
            f"{spec.image}:{version}", name=name, labels=labels, ports=ports, environment=dict(spec.environment),
            detach=True))
        if current is not None and current.status == "running":
            self._change(f"stopping {current.name}", lambda: current.stop(timeout=self.settings.stop_timeout))
        try:
            self._change(f"starting {name}", new.start)
        except DeployTimeout:
            raise  # it may be starting: bringing the old one back could make two answer at once
        except DeployError as e:
            if current is not None and current.status == "running":  # refused: the old version comes back
                self._change(f"starting {current.name} again", current.start)
                raise DeployError(f"{e}; {service} {previous} was started again") from None
            raise
        for old in containers:
            if old is not current:  # keep the replaced one (stopped) for its logs; drop older ones
                try:
                    old.remove(force=True)
                except (docker.errors.APIError, *_TRANSIENT):
                    pass  # tidying only: a leftover stopped container does no harm
        return self.state(service), True

    def _known(self, service: str) -> Any:
        spec = self.settings.services.get(service)
        if spec is None:
            raise DeployNotFound(f"there is no service {service!r}; services: {', '.join(self.settings.services)}")
        return spec

    # --- for tests and operators: the container's main process -------------------------------------

    def main_pid(self, service: str) -> int | None:
        """The host pid of the current container's main process (None when it is not running)."""
        current = self._current(self._containers(service))
        if current is None or current.status != "running":
            return None
        return int(current.attrs.get("State", {}).get("Pid") or 0) or None
