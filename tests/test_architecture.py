"""The package's shape, checked from its source (docs/architecture.md).

Every ``import`` statement counts, those inside functions too: a cycle hidden
behind a function-level import is still a cycle for whoever reads the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genrescope"
WEB_FRAMEWORKS = ("fastapi", "starlette", "gradio", "uvicorn", "fastapi_offline")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 100


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            found += [f"{target}.{a.name}" for a in node.names]   # "from . import x"
    return found


def _part(module: str) -> str | None:
    """``genrescope.server.page.render`` -> ``server``; ``genrescope.audio`` -> ``audio``."""
    bits = module.split(".")
    if bits[0] != "genrescope" or len(bits) < 2:
        return None
    name = bits[1]
    exists = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists()
    return name if exists else None


def _part_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _modules():
        src = _part(_module_name(path)) or "__init__"
        for target in _imports(path):
            dst = _part(target)
            if dst and dst != src and src != "__init__":
                graph.setdefault(src, set()).add(dst)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_parts():
    """Sub-packages and root modules import one another without a cycle."""
    assert _find_cycle(_part_graph()) is None, " -> ".join(_find_cycle(_part_graph()))


def test_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_web_frameworks_only_in_server():
    """Only ``genrescope/server/`` imports a web framework."""
    offenders = []
    for path in _modules():
        if path.is_relative_to(PACKAGE / "server"):
            continue
        for target in _imports(path):
            if target.split(".")[0] in WEB_FRAMEWORKS:
                offenders.append(f"{path.relative_to(PACKAGE)}: {target}")
    assert not offenders, offenders


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_function_length(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: over {MAX_MODULE_LINES} lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, long
