"""Deployments: containers through the Docker API or processes under supervisord, behind one set of tools.

``tools`` (services, health, logs, deploy, rollback), ``watch`` (health changes as
``deploy.health_changed`` events), ``settings`` (``DeploySettings``).
"""

from __future__ import annotations

from .errors import DeployError, DeployNotFound, DeployTimeout, DeployUncertain
from .settings import DeploySettings, ServiceSettings

__all__ = ["DeployError", "DeployNotFound", "DeploySettings", "DeployTimeout", "DeployUncertain", "ServiceSettings"]
