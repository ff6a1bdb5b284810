"""Finds import cycles between the modules of a package (default: seqlab/).

Usage:
    python scripts/import_graph.py [PACKAGE_FOLDER]

Every import statement counts, wherever it stands: at the top of a module,
inside a function or method, under `if TYPE_CHECKING:` or in a `try`. Only
imports of the package's own modules are edges:

- `import seqlab.a.b` and `from seqlab.a.b import name` are edges to
  `seqlab.a.b` (its `__init__.py` when it is a package);
- `from seqlab.a import b` is an edge to the module `seqlab.a.b` when there
  is one, else to `seqlab.a` (so `seqlab.x.y` doing `from seqlab.x import
  name` is an edge to `seqlab/x/__init__.py`);
- relative imports (`from . import b`, `from .a import name`) resolve the
  same way from the importing module's package;
- the parent packages Python runs on the way in are not edges.

Prints each cycle (one per group of modules that import each other), with
the file and line of every import on it, and exits 1; prints a one-line
summary and exits 0 when there is none. Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PACKAGE = Path(__file__).resolve().parent.parent / "seqlab"


@dataclass(frozen=True)
class Edge:
    """One import of a package module by another: where it is written."""

    source: str
    target: str
    path: Path
    line: int


def module_names(package: Path) -> dict[str, Path]:
    """Returns every module of the package folder: dotted name -> file.

    A package's name maps to its `__init__.py`; folders without one are
    namespace packages and are skipped, like `__pycache__`.
    """
    modules = {}
    root_name = package.name
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts:
            continue
        folders = relative.parts[:-1]
        if any(not (package.joinpath(*folders[:depth + 1]) / "__init__.py").is_file()
               for depth in range(len(folders))):
            continue
        parts = [root_name, *folders]
        if relative.name != "__init__.py":
            parts.append(relative.stem)
        modules[".".join(parts)] = path
    return modules


def import_edges(package: Path) -> tuple[dict[str, Path], list[Edge]]:
    """Returns the package's modules and every import between two of them.

    Raises:
        SyntaxError: when a module cannot be parsed (naming the file).
    """
    modules = module_names(package)
    edges = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _targets(node, name, is_package, modules):
                if target != name:
                    edges.append(Edge(name, target, path, node.lineno))
    return modules, edges


def find_cycles(modules: dict[str, Path], edges: list[Edge]) -> list[list[Edge]]:
    """Returns one cycle (a closed list of edges) per group of modules that import each other.

    A group (a strongly connected component) may hold several cycles; the
    shortest through its first module is returned, and `cycle_groups` names
    every member.
    """
    graph = _graph(modules, edges)
    groups = [group for group in _strongly_connected(graph) if len(group) > 1]
    return [_cycle_in(sorted(group)[0], group, graph) for group in sorted(groups, key=sorted)]


def cycle_groups(modules: dict[str, Path], edges: list[Edge]) -> list[list[str]]:
    """Returns each group of modules that import each other (directly or not), sorted."""
    groups = [group for group in _strongly_connected(_graph(modules, edges)) if len(group) > 1]
    return sorted(sorted(group) for group in groups)


def main(argv: list[str] | None = None) -> int:
    """Prints the cycles of the package; returns 1 if there is one, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", type=Path, default=DEFAULT_PACKAGE,
                        help=f"the package folder (default: {DEFAULT_PACKAGE})")
    args = parser.parse_args(argv)
    package = args.package.resolve()
    if not (package / "__init__.py").is_file():
        print(f"import_graph: {package} is not a package folder (no __init__.py)", file=sys.stderr)
        return 2
    modules, edges = import_edges(package)
    cycles = find_cycles(modules, edges)
    root = package.parent
    for number, (cycle, group) in enumerate(zip(cycles, cycle_groups(modules, edges)), start=1):
        names = [edge.source for edge in cycle] + [cycle[0].source]
        print(f"cycle {number}: {' -> '.join(names)}")
        if len(group) > len(cycle):
            print(f"  (one of the cycles among {', '.join(group)})")
        for edge in cycle:
            print(f"  {edge.path.relative_to(root)}:{edge.line}: {edge.source} imports {edge.target}")
    if cycles:
        print(f"{len(cycles)} import cycle(s) among the modules of {package.name}/")
        return 1
    print(f"no import cycle among {len(modules)} modules of {package.name}/ "
          f"({len(edges)} imports between them, imports inside functions included)")
    return 0


# ----------------------------------------------------------------- helpers
def _graph(modules: dict[str, Path], edges: list[Edge]) -> dict[str, dict[str, Edge]]:
    """source -> target -> the first import of target written in source."""
    graph: dict[str, dict[str, Edge]] = {name: {} for name in modules}
    for edge in edges:
        graph[edge.source].setdefault(edge.target, edge)
    return graph


def _targets(node: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """The package modules one AST node imports (none for other nodes)."""
    if isinstance(node, ast.Import):
        return [found for alias in node.names
                if (found := _existing(alias.name, modules)) is not None]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        # The package the relative import starts from: a module's own package
        # for level 1 (its __init__ counts as inside the package), then upwards.
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if alias.name != "*" and submodule in modules:
            targets.append(submodule)
        elif (found := _existing(base, modules)) is not None:
            targets.append(found)
    return targets


def _existing(dotted: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `dotted` that is a module of the package, if any."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on deep packages)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _cycle_in(start: str, group: set[str], graph: dict[str, dict[str, Edge]]) -> list[Edge]:
    """A shortest cycle through `start` inside `group` (breadth-first), as its edges."""
    came_from: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child, edge in sorted(graph[node].items()):
                if child not in group:
                    continue
                if child == start:
                    path = [edge]
                    while path[0].source != start:
                        path.insert(0, came_from[path[0].source])
                    return path
                if child not in came_from:
                    came_from[child] = edge
                    following.append(child)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected group but on no cycle")


if __name__ == "__main__":
    sys.exit(main())
