"""The layers a newcomer sees in the folder names are the layers the imports follow: down only."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "meshclaw"
LAYERS = ["domain", "policy", "store", "runtime", "connectors", "agents", "security", "operations", "surfaces"]


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "meshclaw" and parts[1] in LAYERS else None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes under ``if TYPE_CHECKING:``: those imports never run, so they make no circle."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports(path: Path, *, runtime_only: bool = False) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    skipped = _type_checking_nodes(tree) if runtime_only else set()
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
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


def _module_graph() -> dict[str, set[str]]:
    """Each module of the package and the modules it imports when it runs (TYPE_CHECKING imports aside)."""
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for _, imported in imports(path, runtime_only=True):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]  # "from pkg.mod import name" names pkg.mod
            if target and target != name and not name.startswith(target + "."):
                deps.add(target)  # a module importing its own package's __init__ is no circle of its own making
        graph[name] = deps
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_import_circles_anywhere():
    assert import_circles(_module_graph()) == []


def test_the_circle_check_finds_a_circle():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_meshclaw_variables_are_read_in_one_module():
    import re

    read = re.compile(r"""(environ(\.get)?\s*[\[(]|getenv\s*\()\s*["']MESHCLAW_""")
    readers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if read.search(p.read_text(encoding="utf-8")))
    assert readers == []  # domain/environment.py reads them from a list of names, through one os.environ.get
    assert read.search('os.environ.get("MESHCLAW_HOME")') and read.search("os.environ['MESHCLAW_X']")
