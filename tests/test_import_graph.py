"""The package's import graph: configs import nothing from training, and no import loop passes through hatebm.config.

Edges are the ``import`` and ``from ... import`` statements of every module under src/hatebm, wherever they stand
(function bodies included, as a lazy import is still a dependency), except those under ``if TYPE_CHECKING:``. A
package's ``__init__`` is a module of its own (``hatebm.config``), and ``from hatebm import checkpoint`` is an edge to
``hatebm.checkpoint`` where that is a module. Run as a script, it prints the loops (strongly connected components).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def modules(src: Path = SRC) -> dict[str, Path]:
    """Every module of the hatebm package by dotted name."""
    out = {}
    for path in sorted((src / "hatebm").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, name: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement outside ``if TYPE_CHECKING:`` blocks."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[:len(name.split(".")) - node.level + is_package]
                base = ".".join(package + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph(src: Path = SRC) -> dict[str, set[str]]:
    """module -> the hatebm modules it imports."""
    mods = modules(src)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, names in _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.stem == "__init__"):
            if target not in mods:
                continue
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            edges[name].update(subs or [target])
            if len(subs) < len(names):  # names defined in the package's __init__ itself
                edges[name].add(target)
    for name in edges:
        edges[name].discard(name)
    return edges


def loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges) + 100))

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return sorted(out)


def test_config_imports_nothing_from_train():
    edges = graph()
    for name, targets in edges.items():
        if name == "hatebm.config" or name.startswith("hatebm.config."):
            assert not [t for t in targets if t == "hatebm.train" or t.startswith("hatebm.train.")], name


def test_no_import_loop_passes_through_config():
    for component in loops(graph()):
        assert not [m for m in component if m == "hatebm.config" or m.startswith("hatebm.config.")], component


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else SRC
    found = loops(graph(src))
    for component in found:
        print(len(component), " ".join(component))
    print(f"{len(found)} loops, {sum(map(len, found))} modules in them")
