"""The layers of ARCHITECTURE.md, checked on the source: who may import whom, and module size.

The core (``assistant/`` outside ``assistant/cli/``) imports nothing of ours; ``api``,
``indexing`` and ``finetune`` import only the core; nothing imports the CLI layer, and no
product module imports ``tests`` or ``bench``. Imports are read with ``ast`` (``import``,
``from ... import``, ``importlib.import_module("...")``), wherever they sit: an import
inside a function is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PRODUCT = ("assistant", "indexing", "api", "finetune")
CLI = "assistant.cli"
MAX_LINES = 350  # a Python module of the product packages
MAX_WIDGET_LINES = 500  # a file of the chat widget (api/static)

# Each rule: (modules it applies to, what they must not import).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "assistant": ("api", "indexing", "finetune", CLI, "tests", "bench"),
    "api": ("indexing", "finetune", CLI, "tests", "bench"),
    "indexing": ("api", "finetune", CLI, "tests", "bench"),
    "finetune": ("api", "indexing", CLI, "tests", "bench"),
    CLI: ("tests", "bench"),
}

# Files allowed over the size limit (none: the answer pipeline, the build and the widget
# were split). An entry that is no longer over the limit fails too: remove it.
KNOWN_OVERSIZE: set[str] = set()


def module_name(path: Path, root: Path = REPO) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def product_modules() -> list[Path]:
    return [path for package in PRODUCT for path in sorted((REPO / package).rglob("*.py"))]


def _dynamic_import(node: ast.AST) -> str | None:
    """The module of ``importlib.import_module("x")`` or ``__import__("x")``, if constant."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    arg = node.args[0]
    if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
        return str(arg.value)
    return None


def imported_names(path: Path, root: Path = REPO) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from assistant import cli` imports assistant.cli
                yield node.lineno, f"{base}.{alias.name}"
        elif (name := _dynamic_import(node)) is not None:
            yield node.lineno, name


def layer_of(module: str) -> str:
    if module == CLI or module.startswith(CLI + "."):
        return CLI
    return module.split(".", 1)[0]


def violations(paths: list[Path], root: Path = REPO) -> list[tuple[str, int, str, str]]:
    """(file, line, imported module, forbidden layer) for every import across the layers."""
    found = set()
    for path in paths:
        forbidden = FORBIDDEN[layer_of(module_name(path, root))]
        for line, name in imported_names(path, root):
            for target in forbidden:
                if name == target or name.startswith(target + "."):
                    found.add((str(path.relative_to(root)), line, name, target))
                    break
    return sorted(found)


def test_no_layer_imports_what_it_must_not() -> None:
    problems = [f"{f}:{line} imports {name} ({layer} is off limits)"
                for f, line, name, layer in violations(product_modules())]  # fmt: skip
    assert not problems, "layering broken:\n" + "\n".join(problems)


def test_the_checker_sees_each_kind_of_import(tmp_path: Path) -> None:
    """The rule on a bad core module: plain, from, nested, relative and dynamic imports."""
    (tmp_path / "assistant").mkdir()
    probe = tmp_path / "assistant" / "probe.py"
    probe.write_text(
        "import indexing.build\n"
        "from api import app\n"
        "from assistant import cli\n"
        "def f():\n"
        "    from finetune.train import train\n"
        "    import importlib\n"
        "    importlib.import_module('bench.common')\n"
        "from . import cli as c2\n"
        "from assistant import settings\n"
    )
    found = [(line, name) for _, line, name, _ in violations([probe], root=tmp_path)]
    assert found == [
        (1, "indexing.build"),
        (2, "api"),
        (2, "api.app"),
        (3, "assistant.cli"),
        (5, "finetune.train"),
        (5, "finetune.train.train"),
        (7, "bench.common"),
        (8, "assistant.cli"),
    ]


def oversize() -> dict[str, int]:
    sizes = {}
    for path in product_modules():
        sizes[str(path.relative_to(REPO))] = (len(path.read_text().splitlines()), MAX_LINES)
    for path in sorted((REPO / "api" / "static").rglob("*")):
        if path.is_file() and path.suffix in (".js", ".css", ".html"):
            rel = str(path.relative_to(REPO))
            sizes[rel] = (len(path.read_text().splitlines()), MAX_WIDGET_LINES)
    return {rel: n for rel, (n, limit) in sizes.items() if n > limit}


def test_no_module_over_the_size_limit() -> None:
    over = oversize()
    new = {rel: n for rel, n in over.items() if rel not in KNOWN_OVERSIZE}
    assert not new, (
        f"split these (limit {MAX_LINES} lines, {MAX_WIDGET_LINES} for the widget): {new}"
    )
    fixed = sorted(KNOWN_OVERSIZE - set(over))
    assert not fixed, f"no longer oversize, remove from KNOWN_OVERSIZE: {fixed}"


@pytest.mark.parametrize("package", ["api", "indexing", "finetune"])
def test_packages_export_what_they_declare(package: str) -> None:
    """Every name in ``__all__`` exists (a stale export fails here, not in a user's import)."""
    import importlib

    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported, f"{package}/__init__.py declares no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
