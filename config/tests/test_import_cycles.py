"""No two modules of the project import each other, not even from inside a function.

import-linter (`make lint`) holds the apps' layers and forbids cycles between sibling modules;
it does not look at a package and its own children, which are not siblings. This test reads
every import statement of every module with `ast`, wherever it stands, so a package's
`__init__` and a child that imports it back are caught as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRECTORIES = {".venv", "var", "node_modules"}


def _project_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of every top-level package of the project."""
    modules: dict[str, Path] = {}
    for package in sorted(ROOT.iterdir()):
        if package.name in SKIPPED_DIRECTORIES or not (package / "__init__.py").is_file():
            continue
        for path in package.rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    """The longest leading part of `name` that is a project module (`a.b.func` -> `a.b`)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """Project modules that `module` imports, each with the line of its first import."""
    found: dict[str, int] = {}
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # A relative import counts from the module's package (its own name for a package).
                anchor = module.split(".")[: len(module.split(".")) - (node.level - is_package)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` names module a.b when there is one, else something inside a.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for name in names:
            target = _known_prefix(name, modules)
            if target is not None and target != module:
                found.setdefault(target, node.lineno)
    return found


def _mutual_imports(modules: dict[str, Path]) -> list[str]:
    """Every pair of modules that import each other, with the line of each import."""
    graph = {module: _imports(module, path, modules) for module, path in modules.items()}
    return sorted(
        f"{first} (line {graph[first][second]}) <-> {second} (line {graph[second][first]})"
        for first, imported in graph.items()
        for second in imported
        if first < second and first in graph[second]
    )


def test_no_two_modules_import_each_other() -> None:
    assert _mutual_imports(_project_modules()) == []


def test_the_check_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.child import thing\n")
    (package / "child.py").write_text("def thing():\n    from . import sibling\n    import pkg\n")
    (package / "sibling.py").write_text("")
    modules = {"pkg": package / "__init__.py", "pkg.child": package / "child.py", "pkg.sibling": package / "sibling.py"}

    assert _imports("pkg.child", modules["pkg.child"], modules) == {"pkg.sibling": 2, "pkg": 3}
    assert _mutual_imports(modules) == ["pkg (line 1) <-> pkg.child (line 3)"]
