"""Hand-edited YAML goes wrong in a few ways; each gets one plain line with its line number, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshclaw.domain.config_file import ConfigError, parse_config

HEAD = "users:\n  - {id: alice, name: Alice}\nmodels:\n  m: {kind: scripted, turns: [{text: hi}]}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(text, Path("meshclaw.yaml"))
    return [str(p) for p in e.value.problems]


def test_an_empty_value_is_named_with_its_line():
    text = HEAD + "agents:\n  - name: a\n    owner: alice\n    instructions:\n    model: m\n"
    assert problems(text) == ["line 8: agents.0.instructions: is empty: give it a value, or remove the line"]


def test_an_empty_value_inside_settings_loads_as_nothing_rather_than_crashing():
    text = HEAD + ("agents:\n  - name: a\n    owner: alice\n    instructions: x\n    model: m\n"
                   "    toolsets:\n      notes:\n        grants: [notes.add]\n        settings:\n          imap_host:\n")
    config = parse_config(text, Path("meshclaw.yaml"))
    assert config.agents[0].toolsets["notes"].settings == {"imap_host": None}


@pytest.mark.parametrize("text, line, words", [
    ("users:\n  - id: alice\n   name: Alice\n", 3, "indentation of this line does not match"),
    ("users:\n\t- {id: alice, name: Alice}\n", 2, "indent with spaces"),
    ("users: [{id: alice, name: Alice}\n", 2, "not closed with ']'"),
    ("organisation:\n  name: Example: Corp: x\n", 2, "put the value in quotes"),
])
def test_malformed_yaml_is_explained_in_plain_words(text, line, words):
    [problem] = problems(text)
    assert problem.startswith(f"line {line}: ") and words in problem
