"""Deployments: containers through the Docker API, processes under supervisord, or the services of a
sandbox workplace in MeshClaw's store (``sandbox_backend``), behind one set of tools.

``tools`` (services, health, logs, deploy, rollback), ``watch`` (health changes as
``deploy.health_changed`` events), ``settings`` (``DeploySettings``).
"""

from __future__ import annotations

from .errors import DeployError, DeployNotFound, DeployTimeout, DeployUncertain
from .settings import DeploySettings, ServiceSettings

__all__ = ["DeployError", "DeployNotFound", "DeploySettings", "DeployTimeout", "DeployUncertain", "ServiceSettings"]
