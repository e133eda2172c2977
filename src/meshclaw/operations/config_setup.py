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


def _pinned(grant: Any, targets: tuple[str, ...]) -> bool:
    """Whether the grant names exactly whom its tool may reach: every target argument (recipient,
    channel) has an ``equals`` or ``one_of`` condition — e.g. a briefing only to the owner, a note only
    to the team channel the owner chose. Such a grant needs no warning: its reach is written down."""
    return bool(targets) and all(
        (c := grant.when.get(arg)) is not None and (c.equals is not None or c.one_of is not None) for arg in targets)


def unattended_external_grants(config: Any, lines: Any) -> list[ConfigProblem]:
    """An agent on ``autonomy: auto`` granted a tool that reaches other people (Effect.EXTERNAL)
    without ``approval: always`` and without naming whom it may reach (``_pinned``): it would act
    outside its owner's workspace by itself. A warning,
    not an error: the guard still asks where provenance demands, and an owner may mean it."""
    from meshclaw.connectors.registry import UnknownToolset, resolve
    from meshclaw.domain.config import Autonomy
    from meshclaw.domain.effects import Effect, spec_of

    out = []
    for i, agent in enumerate(config.agents):
        if agent.autonomy != Autonomy.AUTO:
            continue
        for name, toolset in agent.toolsets.items():
            targets: dict[str, tuple[str, ...]] = {}
            if toolset.mcp is not None:
                effects = {f"{name}.{tool}": effect for tool, effect in toolset.effects.items()}
            else:
                try:
                    specs = [spec_of(f) for f in resolve(name, toolset).functions]
                except UnknownToolset:
                    continue
                effects = {spec.name: spec.effect for spec in specs}
                targets = {spec.name: spec.sensitive_args for spec in specs}
            for j, g in enumerate(toolset.grants):
                # an MCP tool not listed under effects counts as external unless the server marks it read-only
                effect = effects.get(g.tool, Effect.EXTERNAL if toolset.mcp is not None else None)
                if effect == Effect.EXTERNAL and g.approval != "always" and not _pinned(g, targets.get(g.tool, ())):
                    out.append(lines.problem(("agents", i, "toolsets", name, "grants", j),
                                             f"{agent.name} runs on autonomy auto and may call {g.tool}, which reaches "
                                             "other people, without asking: add `approval: always` to this grant "
                                             "(or use autonomy: ask)"))
    return out
