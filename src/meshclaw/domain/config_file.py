"""Reading the configuration file, with errors that point at the line that is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .config import Config
from .errors import ConfigurationError


@dataclass
class ConfigProblem:
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        return f"{at}{self.where}: {self.message}" if self.where else f"{at}{self.message}"


class ConfigError(ConfigurationError):
    """The configuration cannot be used. ``problems`` lists every problem found, each with its line."""

    def __init__(self, path: Path, problems: list[ConfigProblem]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(map(str, problems)))


def _to_python(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else key_node.value
            if key in out:
                raise ConfigError(Path("?"), [ConfigProblem(key_node.start_mark.line + 1, str(key), "duplicate key")])
            child = path + (key,)
            out[key] = _to_python(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (i,), lines) for i, item in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node, deep=True)  # an empty value ("imap_host:") is None


# What PyYAML says about a malformed file, in words a person who edits YAML by hand can act on.
_YAML_PROBLEMS = (
    ("expected <block end>", "the indentation of this line does not match the lines above it "
                             "(items at the same level need the same number of spaces)"),
    ("mapping values are not allowed here", "a ':' where a value was expected: put the value in quotes, "
                                            "or move the nested setting to its own, further-indented line"),
    ("cannot start any token", "a tab or other character that YAML does not allow here: indent with spaces"),
    ("could not find expected ':'", "a line that is not 'name: value' (is a ':' missing, or a quote not closed?)"),
    ("expected <block mapping start>", "the indentation of this line does not match the lines above it"),
    ("found unexpected end of stream", "the file ends inside a quoted value or a [list] / {mapping}: close it"),
    ("did not find expected key", "the indentation of this line does not match the lines above it, "
                                  "or a '- ' list item is mixed with 'name: value' settings"),
    ("expected ',' or ']'", "a [list] is not closed with ']' (or items lack commas)"),
    ("expected ',' or '}'", "a {mapping} is not closed with '}' (or items lack commas)"),
)


def yaml_problem(problem: str | None) -> str:
    """A PyYAML parser message turned into plain words (the original kept, in brackets, for searching)."""
    text = (problem or "").strip()
    for marker, plain in _YAML_PROBLEMS:
        if marker in text:
            return f"{plain} [YAML: {text}]"
    return f"not valid YAML: {text}"


def parse_config(text: str, path: Path) -> Config:
    return parse_config_with_lines(text, path)[0]


def parse_config_with_lines(text: str, path: Path) -> tuple[Config, "LineMap"]:
    """The configuration and a map from a setting's path to its line, for later checks."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        raise ConfigError(path, [ConfigProblem(mark.line + 1 if mark else None, "", yaml_problem(e.problem))]) from None
    lines: dict[tuple, int] = {}
    try:
        data = _to_python(node, (), lines) if node is not None else {}
    except ConfigError as e:
        raise ConfigError(path, e.problems) from None
    if not isinstance(data, dict):
        raise ConfigError(path, [ConfigProblem(1, "", "the configuration must be a mapping of sections")])
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(path, [_problem(err, lines, data) for err in e.errors()]) from None
    cross = config.problems()
    if cross:
        raise ConfigError(path, [_problem({"loc": loc, "msg": msg, "type": "reference"}, lines, data) for loc, msg in cross])
    return config, LineMap(lines, data)


class LineMap:
    def __init__(self, lines: dict[tuple, int], data: dict):
        self.lines, self.data = lines, data

    def problem(self, loc: tuple, message: str) -> ConfigProblem:
        return _problem({"loc": loc, "msg": message, "type": "check"}, self.lines, self.data)


def load_config(path: Path) -> Config:
    return load_config_with_lines(path)[0]


def load_config_with_lines(path: Path) -> tuple[Config, LineMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [ConfigProblem(None, "", "no such file (create one with `meshclaw init`)")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, [ConfigProblem(None, "", f"cannot read: {e}")]) from None
    return parse_config_with_lines(text, path)


def _problem(err: dict[str, Any], lines: dict[tuple, int], data: dict) -> ConfigProblem:
    loc = _data_path(err["loc"], data)
    line = None
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            line = lines[loc[:n]]
            break
    where = ".".join(str(p) for p in loc)
    message = err["msg"].removeprefix("Value error, ")
    if err.get("input", "") is None and err["type"] not in ("missing", "extra_forbidden"):
        message = "is empty: give it a value, or remove the line"
    elif err["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling; see `meshclaw init` for a commented example)"
    return ConfigProblem(line, where, message)


def _data_path(loc: tuple, data: Any) -> tuple:
    """Drop the parts of a pydantic error location that are not in the data (union tags, 'function-after')."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part not in node and not _is_tag(part):
            out.append(part)  # a missing or unknown key: point at its parent, name the key
            break
    return tuple(out)


def _is_tag(part: str) -> bool:
    return part in {"bundled", "openai", "anthropic", "scripted", "fallback"} or "[" in part or part.startswith("function-")


def write_config_text(path: Path, text: str, *, backup: bool = False) -> None:
    """Write ``text`` (UTF-8) to the configuration file at ``path``, readable by its owner only (mode
    0600, also when it replaces a file that had looser bits): it names the organisation's people,
    managers and accounts. Written to a temporary file beside it and renamed, so a reader never sees
    half a file. A missing folder is created 0700 (the data dir holds user data). ``backup``: an
    existing file is first copied to ``NAME.bak``, also 0600. Raises OSError as the filesystem does."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)  # mkdir's mode is reduced by the umask
    if backup and path.exists():
        _write_private(path.with_suffix(path.suffix + ".bak"), path.read_bytes())
    _write_private(path, text.encode("utf-8"))


def _write_private(path: Path, data: bytes) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
