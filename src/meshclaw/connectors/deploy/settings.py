"""The deploy connector's settings: which backend runs the services, how to reach it, and the services.

Two backends share one set of tools:

- ``docker``: containers through the Docker Engine API (Docker or Podman's compatible service);
  ``url`` is ``unix:///path/to/socket`` or ``tcp://127.0.0.1:PORT``. A service's versions are
  image tags of its ``image`` repository, built or loaded on that host (nothing is pulled).
- ``supervisor``: processes under supervisord, through its XML-RPC interface (``url``
  ``http://127.0.0.1:PORT/RPC2``, with ``username`` and the ``password`` secret reference). A
  service's versions are directories ``<root>/releases/<version>``; ``<root>/current`` is a
  symlink to the deployed one, which the supervisord program runs from.

- ``sandbox``: a sandbox workplace in MeshClaw's store (``workplace: NAME``), as the sandbox mail,
  calendar and chat are: a service's versions, deploy history, process state, health answer and logs
  are rows there (no server, no password); the demo night scripts a failure into them. A service's
  ``health_url`` is not fetched: the sandbox answers it from the service's row.

The password is a secret reference (``secret:deploy_rpc``), never a value.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshclaw.domain.config import SecretRef
from meshclaw.domain.network import is_loopback


class ServiceSettings(BaseModel):
    """One deployable service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    health_url: str | None = Field(default=None, description="HTTP URL answering 2xx when healthy; none: state only")
    # docker
    image: str | None = Field(default=None, description="docker: the image repository; versions are its tags")
    ports: dict[int, int] = Field(default_factory=dict, description="docker: container port -> 127.0.0.1 host port")
    environment: dict[str, str] = Field(default_factory=dict, description="docker: environment of the container")
    # supervisor
    program: str | None = Field(default=None, description="supervisor: the program name (default: the service name)")
    root: str | None = Field(default=None, description="supervisor: directory holding releases/<version> and current")

    @model_validator(mode="after")
    def health_is_http(self) -> "ServiceSettings":
        if self.health_url is not None and urlsplit(self.health_url).scheme not in ("http", "https"):
            raise ValueError(f"health_url must be an http(s) URL, not {self.health_url!r}")
        return self


class DeploySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["docker", "supervisor", "sandbox"]
    url: str | None = Field(default=None, description="docker: unix:///path or tcp://127.0.0.1:PORT; supervisor: "
                            "http://127.0.0.1:PORT/RPC2; sandbox: none")
    workplace: str | None = Field(default=None, description="with backend sandbox: the workplace's name (e.g. demo)")
    username: str | None = Field(default=None, description="supervisor: the inet_http_server username")
    password: SecretRef | None = Field(default=None, description="supervisor: the inet_http_server password")
    services: dict[str, ServiceSettings] = Field(min_length=1)
    timeout: float = Field(default=20.0, gt=0, description="seconds to wait for each answer of the deploy API")
    retries: int = Field(default=2, ge=0, le=5, description="extra attempts for reads only (list, health, logs)")
    health_timeout: float = Field(default=3.0, gt=0, description="seconds for one HTTP health check")
    stop_timeout: int = Field(default=10, ge=0, le=300, description="seconds a service gets to stop before it is killed")
    start_wait: float = Field(default=10.0, ge=0, le=300,
                              description="seconds a deploy waits for the new version to answer its health URL")

    @model_validator(mode="after")
    def reachable_safely(self) -> "DeploySettings":
        if self.backend == "sandbox":
            server = [k for k in ("url", "username", "password") if getattr(self, k) is not None]
            if server:
                raise ValueError(f"backend 'sandbox' keeps the services in a workplace, not on a server: remove "
                                 f"{', '.join(server)}")
            if not self.workplace:
                raise ValueError("backend 'sandbox' needs the workplace's name (workplace: demo)")
            return self
        if self.workplace is not None:
            raise ValueError("workplace is only for backend 'sandbox'")
        if not self.url:
            raise ValueError(f"backend {self.backend!r} needs url (the deploy API's address)")
        parts = urlsplit(self.url)
        if self.backend == "docker":
            if parts.scheme not in ("unix", "tcp", "http"):
                raise ValueError(f"url must be unix:///path or tcp://127.0.0.1:PORT for docker, not {self.url!r}")
            if parts.scheme != "unix" and not is_loopback(parts.hostname):
                # The Docker API is root on that host and has no authentication of its own.
                raise ValueError(f"the Docker API must be on this machine (unix socket or loopback), not {self.url!r}")
            missing = [n for n, s in self.services.items() if not s.image]
            if missing:
                raise ValueError(f"docker services need an image: {', '.join(missing)}")
        else:
            if parts.scheme != "http" or not is_loopback(parts.hostname):
                raise ValueError(f"supervisor url must be http://127.0.0.1:PORT/RPC2 (loopback), not {self.url!r}")
            if not self.username or not self.password:
                raise ValueError("supervisor needs username and password (a secret reference): its XML-RPC "
                                 "interface controls every program")
            missing = [n for n, s in self.services.items() if not s.root]
            if missing:
                raise ValueError(f"supervisor services need a root (releases/<version>, current): {', '.join(missing)}")
        return self

    def program_of(self, service: str) -> str:
        return self.services[service].program or service
