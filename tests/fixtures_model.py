"""The bundled model's server, started once per test session for every test marked ``bundled_model``.

Loading the 1.1 GB model takes seconds of the two cores; the product keeps one server per process
(``meshclaw.runtime.models.bundled``), and this fixture makes the test session keep it too, instead
of each module starting and stopping its own. Tests that need the model request ``bundled_server``
and carry ``@pytest.mark.bundled_model`` (only those see ``MESHCLAW_MODEL_DIR``, see conftest).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest


@dataclass(frozen=True)
class BundledServer:
    """The session's llama.cpp server: the model file, and the running server's address and key."""

    model_file: Path
    server: Any  # meshclaw.runtime.models.bundled._Server

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, ``http://127.0.0.1:PORT/v1``; starts the server again if a test stopped it."""
        return self.server.ensure_started()

    @property
    def api_key(self) -> str:
        """The key the server wants on every request (it lives only in this process)."""
        return self.server.api_key


@pytest.fixture(scope="session")
def bundled_server() -> Iterator[BundledServer]:
    """Start the bundled model once for the session; skip when it is not installed (scripts/test installs it)."""
    from meshclaw.domain.config import BundledModel
    from meshclaw.domain.environment import environment
    from meshclaw.runtime.models.bundled import _shared_server, shutdown_bundled_server
    from meshclaw.runtime.models.bundled_install import model_path

    path = model_path(environment().home)
    if not path.is_file():
        pytest.skip(f"the bundled model is not installed at {path} (scripts/test installs it; set MESHCLAW_MODEL_DIR)")
    server = _shared_server(path, BundledModel(kind="bundled"))
    server.ensure_started()
    yield BundledServer(path, server)
    shutdown_bundled_server()
