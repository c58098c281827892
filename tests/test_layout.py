"""The package's layout rules, read from its source with ``ast`` (nothing is imported):

- no import circle between modules at module level (imports under ``TYPE_CHECKING`` do
  not run, and are left out);
- an import of a sibling module inside a function says why it is there (``# lazy: ...``
  on its line or the line above): it keeps ``import attnwidget``, or a command, light;
- no module imports another module's private names (``from attnwidget.x import _name``,
  or ``module._name`` on a module imported whole).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "attnwidget"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


class Import:
    """One import statement of a package module, resolved to the package modules it loads."""

    def __init__(self, module: str, node: ast.Import | ast.ImportFrom, in_function: bool, lines: list[str]):
        self.module, self.node, self.in_function = module, node, in_function
        self.targets: list[str] = []  # package modules imported
        self.names: list[tuple[str, str]] = []  # (module, name) imported from a package module
        self.aliases: dict[str, str] = {}  # local name -> package module imported whole
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    self.targets.append(alias.name)
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
        else:
            base = _absolute(node, module)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:
                    self.targets.append(full)
                    self.aliases[alias.asname or alias.name] = full
                elif base in MODULES:
                    self.targets.append(base)
                    self.names.append((base, alias.name))
        first, last = node.lineno, node.end_lineno or node.lineno
        self.comment = "\n".join(lines[max(first - 2, 0) : last])
        self.where = f"{MODULES[module].relative_to(PACKAGE.parent)}:{first}"


def _imports(module: str) -> list[Import]:
    source = MODULES[module].read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for rest in child.orelse:
                    visit(rest, in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(Import(module, child, in_function, lines))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


IMPORTS = {module: _imports(module) for module in MODULES}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module, or of one that
    imports itself (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return circles


def test_the_circle_finder_finds_circles():
    assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_circles({"a": {"b"}, "b": set()}) == []


def test_modules_import_each_other_without_circles():
    graph = {
        m: {t for imp in imps if not imp.in_function for t in imp.targets if t != m} for m, imps in IMPORTS.items()
    }
    assert find_circles(graph) == []


def test_sibling_imports_inside_functions_say_why():
    unexplained = [
        f"{imp.where}: {ast.unparse(imp.node)}"
        for imps in IMPORTS.values()
        for imp in imps
        if imp.in_function and imp.targets and "# lazy:" not in imp.comment
    ]
    assert unexplained == [], "a function-local import of a package module needs a '# lazy: why' comment"


def test_no_module_imports_another_modules_private_names():
    reached = [
        f"{imp.where}: {module}.{name}"
        for imps in IMPORTS.values()
        for imp in imps
        for module, name in imp.names
        if _private(name) and module != imp.module
    ]
    for module, imps in IMPORTS.items():
        aliases = {local: target for imp in imps for local, target in imp.aliases.items()}
        for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                reached.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{node.lineno}: {aliases[node.value.id]}.{node.attr}"
                )
    assert reached == []


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
)
def test_each_subpackage_says_what_its_modules_do(folder):
    assert ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8")))
