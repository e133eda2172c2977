"""Resolving secret references (``env:NAME``, ``secret:NAME``) without ever logging their values."""

from __future__ import annotations

import os
from pathlib import Path


from .credentials import (  # noqa: F401 - re-exported: the rules about credentials live there
    REDACTED, SECRET_KEYS, literal_secret_problem, sanitise, strip_url_credentials, url_credential_problem)
from .errors import SecretMissing  # noqa: E402 - re-exported


class Secrets:
    """Looks secrets up in the environment or in a ``NAME=value`` secrets file (kept mode 0600).

    The file is read again whenever it changed (its modification time or size), so a secret added
    while a worker runs is found without a restart. Every value resolved from the environment is
    remembered too, so that redaction covers ``env:`` secrets as well as ``secret:`` ones.
    """

    def __init__(self, secrets_file: Path | None):
        self.secrets_file = secrets_file
        self._file_values: dict[str, str] | None = None
        self._stamp: tuple[int, int] | None = None
        self._env_names: set[str] = set()

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.secrets_file.stat() if self.secrets_file is not None else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st is not None else None

    def _file(self) -> dict[str, str]:
        stamp = self._current_stamp()
        if self._file_values is None or stamp != self._stamp:
            values: dict[str, str] = {}
            if stamp is not None and self.secrets_file is not None:
                for raw in self.secrets_file.read_text(encoding="utf-8").splitlines():
                    line = raw.strip()
                    if line and not line.startswith("#") and "=" in line:
                        k, _, v = line.partition("=")
                        values[k.strip()] = v.strip()
            self._file_values, self._stamp = values, stamp
        return self._file_values

    def resolve(self, ref: str) -> str:
        scheme, _, name = ref.partition(":")
        if scheme == "env":
            value = os.environ.get(name)
            where = f"environment variable {name}"
            if value:
                self._env_names.add(name)
        elif scheme == "secret":
            value = self._file().get(name)
            where = f"secret {name!r} in {self.secrets_file}"
        else:
            raise SecretMissing(f"not a secret reference: use env:NAME or secret:NAME")
        if not value:
            raise SecretMissing(f"{where} is not set")
        return value

    def values(self) -> list[str]:
        """Every secret value known (the file's, and environment secrets resolved so far), for redaction."""
        env = [os.environ.get(n, "") for n in sorted(self._env_names)]
        return [v for v in [*self._file().values(), *env] if len(v) >= 4]

