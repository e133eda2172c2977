"""Errors about the bundled local model, importable without pulling in any model library."""

from __future__ import annotations


from meshclaw.domain.errors import ModelErrorBase


class ModelError(ModelErrorBase):
    """Base class: the message is one line meant for a person, never a traceback."""


class ModelUnavailable(ModelError):
    """The model cannot be used here: not installed, runtime missing, or its server did not start."""


class ModelFileInvalid(ModelUnavailable):
    """A model file's size or sha256 is not the pinned one; the file must not be used (so: unavailable)."""


class ModelInstallError(ModelError):
    """Fetching or assembling the model failed (no network, pip error, disk full...)."""
