"""Resolving secret references (``env:NAME``, ``secret:NAME``) without ever logging their values."""

from __future__ import annotations

import os
from pathlib import Path


from .errors import SecretMissing  # noqa: E402 - re-exported


class Secrets:
    """Looks secrets up in the environment or in a ``NAME=value`` secrets file (kept mode 0600)."""

    def __init__(self, secrets_file: Path | None):
        self.secrets_file = secrets_file
        self._file_values: dict[str, str] | None = None

    def _file(self) -> dict[str, str]:
        if self._file_values is None:
            values: dict[str, str] = {}
            if self.secrets_file is not None and self.secrets_file.exists():
                for raw in self.secrets_file.read_text(encoding="utf-8").splitlines():
                    line = raw.strip()
                    if line and not line.startswith("#") and "=" in line:
                        k, _, v = line.partition("=")
                        values[k.strip()] = v.strip()
            self._file_values = values
        return self._file_values

    def resolve(self, ref: str) -> str:
        scheme, _, name = ref.partition(":")
        if scheme == "env":
            value = os.environ.get(name)
            where = f"environment variable {name}"
        elif scheme == "secret":
            value = self._file().get(name)
            where = f"secret {name!r} in {self.secrets_file}"
        else:
            raise SecretMissing(f"not a secret reference: use env:NAME or secret:NAME")
        if not value:
            raise SecretMissing(f"{where} is not set")
        return value

    def values(self) -> list[str]:
        """Every secret value known from the file, for redaction."""
        return [v for v in self._file().values() if len(v) >= 4]
