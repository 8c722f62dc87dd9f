"""Imports flow downward: front ends (dap, repl, cli*) -> debugger -> buildkit and cache,
and buildkit and cache meet only in neutral lower modules (such as buildg_dap.oci)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

# The source tree, not whatever copy of the package is installed.
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "buildg_dap"
FRONT_ENDS = re.compile(r"buildg_dap\.(dap|lsp|repl|cli|cli_\w+)(\.|$)")

# (modules under this package, imported modules they must not name, why)
RULES = [
    ("buildkit", re.compile(r"buildg_dap\.cache(\.|$)"), "buildkit must not import cache"),
    (
        "cache",
        re.compile(r"buildg_dap\.buildkit\.session(\.|$)"),
        "cache must not import buildkit.session",
    ),
    ("buildkit", FRONT_ENDS, "buildkit must not import a front end"),
    ("cache", FRONT_ENDS, "cache must not import a front end"),
    ("debugger", FRONT_ENDS, "debugger must not import a front end"),
    # Front ends stand side by side: what two of them share lives below them.
    ("lsp", re.compile(r"buildg_dap\.(dap|repl)(\.|$)"), "lsp must not import dap or repl"),
    ("dap", re.compile(r"buildg_dap\.(lsp|repl)(\.|$)"), "dap must not import lsp or repl"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an import statement anywhere in ``source`` may name, functions and
    ``if TYPE_CHECKING:`` blocks included. ``from a import b`` yields both ``a`` and
    ``a.b``, since ``b`` may be a submodule."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def test_imported_modules_sees_nested_and_relative_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from buildg_dap.cache.models import CacheConfig\n"
        "def late():\n"
        "    import buildg_dap.repl.session\n"
        "    from ..dap import adapter\n"
        "    from . import sibling\n"
    )
    found = imported_modules(source, "buildg_dap.debugger.engine")
    assert {
        "buildg_dap.cache.models",
        "buildg_dap.repl.session",
        "buildg_dap.dap.adapter",
        "buildg_dap.debugger.sibling",
    } <= found
    assert FRONT_ENDS.match("buildg_dap.cli_build")
    assert not FRONT_ENDS.match("buildg_dap.client")
    assert FRONT_ENDS.match("buildg_dap.lsp.server")


@pytest.mark.parametrize(("layer", "forbidden", "why"), RULES, ids=[r[2] for r in RULES])
def test_layering(layer: str, forbidden: re.Pattern[str], why: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules under {PACKAGE / layer}"
    broken = []
    for path in files:
        name = module_name(path)
        found = imported_modules(path.read_text(), name, is_package=path.name == "__init__.py")
        hits = {target for target in found if forbidden.match(target)}
        # One line per import: "a" and "a.b" from one statement name the same edge.
        broken += [
            f"{name} imports {target}"
            for target in sorted(hits)
            if target.rpartition(".")[0] not in hits
        ]
    assert not broken, why + ":\n" + "\n".join(broken)
