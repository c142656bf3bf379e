"""The package's import graph has no cycle, and ``import tfbegan`` stays light.

The graph is read from the source with ``ast`` (no import runs): an edge for every
``import``/``from ... import`` of a tfbegan module, module-level or inside a function
(a function-local import that closes a cycle only hides it), except under ``if
TYPE_CHECKING:``. Importing ``a.b.c`` first runs the ``__init__`` of ``a.b`` when the
importer is not inside that package, so those packages get an edge too.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tfbegan"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_nodes(tree):
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _imported(tree, modules):
    """Names of the tfbegan modules a module's import statements name."""
    skip = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module in modules:
            yield node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    yield f"{node.module}.{alias.name}"


def _ancestors(name):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        own = _ancestors(name) | ({name} if path.name == "__init__.py" else set())
        edges = set()
        for target in _imported(ast.parse(path.read_text()), modules):
            edges.add(target)
            edges.update(a for a in _ancestors(target) if a not in own)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """One cycle as a list of module names, or None (iterative depth-first search)."""
    state = {}
    for root in sorted(graph):
        if root in state:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_find_cycle_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_package_init_is_a_real_edge():
    # networks -> models.config would run models/__init__, which imports every model,
    # which imports networks: the graph must see that edge through the package.
    graph = import_graph()
    assert "tfbegan.models" in graph["tfbegan.serving.export"] or any(
        t.startswith("tfbegan.models") for t in graph["tfbegan.serving.export"])


@pytest.mark.parametrize("module", ["tfbegan", "tfbegan.cli"])
def test_importing_the_package_does_not_load_tensorflow(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
