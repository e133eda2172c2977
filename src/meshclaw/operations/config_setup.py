"""What a configuration needs from the machine it runs on: the secrets it names, a private secrets
file, and the bundled model it uses. Part of ``meshclaw config check`` (``operations/config.py``).

Each function returns ``ConfigProblem``s pointing at the line that needs the missing thing; none
ever holds a secret's value.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any, Iterator

from meshclaw.domain.config_file import ConfigProblem

_REF = re.compile(r"^(env|secret):[A-Za-z_][A-Za-z0-9_.-]*$")
# Settings whose text is written for the model or a person, never a secret reference.
_PROSE = {"turns", "instructions", "description", "task", "args", "name"}


def secret_references(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every ``env:NAME`` / ``secret:NAME`` string in the raw configuration ``data``, as (path, ref)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key not in _PROSE:
                yield from secret_references(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from secret_references(value, path + (i,))
    elif isinstance(data, str) and _REF.match(data):
        yield path, data


def missing_secrets(lines: Any, secrets_file: Path) -> list[ConfigProblem]:
    """A secret reference that resolves to nothing: an unset or empty environment variable, or a name
    the secrets file does not have (or no secrets file at all). Says where to add it."""
    from meshclaw.domain.secrets import SecretMissing, Secrets

    secrets = Secrets(secrets_file)
    problems, seen = [], set()
    for loc, ref in secret_references(lines.data):
        try:
            secrets.resolve(ref)
            continue
        except SecretMissing:
            pass
        except (OSError, UnicodeDecodeError) as e:
            problems.append(ConfigProblem(None, "", f"cannot read the secrets file {secrets_file}: {e}"))
            break
        if (loc, ref) in seen:
            continue
        seen.add((loc, ref))
        scheme, _, name = ref.partition(":")
        if scheme == "env":
            message = f"{ref}: the environment variable {name} is not set (set it for every process that runs agents)"
        elif not secrets_file.exists():
            message = (f"{ref}: there is no secrets file {secrets_file}; create it with a line {name}=... "
                       f"(and `chmod 600 {secrets_file}`)")
        else:
            message = f"{ref}: {secrets_file} has no line {name}=... (add one)"
        problems.append(lines.problem(loc, message))
    return problems


def loose_secrets_file(secrets_file: Path) -> list[ConfigProblem]:
    """A secrets file that other users of the machine can read or write (any group or other bit)."""
    try:
        mode = stat.S_IMODE(secrets_file.stat().st_mode)
    except FileNotFoundError:
        return []
    except OSError as e:
        return [ConfigProblem(None, "", f"cannot read the secrets file {secrets_file}: {e}")]
    if mode & 0o077:
        return [ConfigProblem(None, "", f"{secrets_file} is readable by others (mode {mode:04o}): "
                                        f"run `chmod 600 {secrets_file}`")]
    return []


def bundled_model_missing(config: Any, lines: Any) -> list[ConfigProblem]:
    """A ``kind: bundled`` model whose verified file is not in the model folder (``MESHCLAW_MODEL_DIR``)."""
    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.models.bundled_install import is_verified, model_path

    names = [n for n, m in config.models.items() if isinstance(m, BundledModel)]
    if not names:
        return []
    path = model_path(Path("."))
    if is_verified(path):
        return []
    return [lines.problem(("models", n, "kind"),
                          f"the bundled model is not installed (no verified {path}): run `meshclaw model install`")
            for n in names]
