"""Errors the deploy connector raises, each worded for the person who has to act on it.

None carries a password: messages name the service, the backend and the address only.
"""

from __future__ import annotations

from meshclaw.domain.errors import ConnectorError


class DeployError(ConnectorError):
    """The deploy backend (Docker API, supervisord) failed or refused."""


class DeployTimeout(DeployError):
    """The deploy API did not answer in time (after the retries an idempotent call is allowed)."""


class DeployNotFound(DeployError):
    """No such service or version; the message lists what there is."""


class DeployUncertain(DeployError):
    """An earlier attempt of this very deploy (same idempotency key) started and did not visibly finish.

    It is never started again automatically: deploying twice, or rolling back over a newer
    deploy, cannot be undone. A person checks the service and deploys again with a new call.
    """
