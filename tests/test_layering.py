"""The layers a newcomer sees in the folder names are the layers the imports follow: down only."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "meshclaw"
LAYERS = ["domain", "policy", "store", "runtime", "connectors", "security", "surfaces"]


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "meshclaw" and parts[1] in LAYERS else None


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: -node.level] if path.name != "__init__.py" else pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def test_imports_point_down_only():
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        here = layer_of(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
        if here is None:
            continue
        for line, name in imports(path):
            there = layer_of(name)
            if there is not None and LAYERS.index(there) > LAYERS.index(here):
                problems.append(f"{path.relative_to(SRC)}:{line} ({here}) imports {name} ({there})")
    assert problems == []


def test_no_file_is_unreasonably_long():
    long = [f"{p.relative_to(SRC)}: {n} lines" for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450]
    assert long == []
