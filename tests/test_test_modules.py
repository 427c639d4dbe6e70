"""Test modules stand alone: no module under tests/ imports a test module (`test_*.py`) or a
conftest. What tests share lives in a helper module beside them (tests/harness.py,
tests/<package>/harness.py and the like) or in a conftest fixture, so that running, moving or
deleting one test file never changes another."""

from __future__ import annotations

import ast

import pytest

from tests.harness import REPO

TESTS = REPO / "tests"


def _is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return dotted.split(".", 1)[0] == "tests" and (last.startswith("test_") or last == "conftest")


def _absolute(node: ast.ImportFrom, module: str) -> str:
    """The module an import from `module` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports_of_test_modules(source: str, module: str, filename: str) -> list[str]:
    """Where `source` (the module `module`, read from `filename`) imports a test module or a
    conftest: one `file:line: name` each."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        found += [f"{filename}:{node.lineno}: {n}" for n in names if _is_test_module(n)]
    return found


def test_no_module_under_tests_imports_a_test_module() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 100, f"only {len(files)} files under {TESTS}"
    found: list[str] = []
    for path in files:
        relative = path.relative_to(REPO)
        module = ".".join(relative.with_suffix("").parts)
        found += imports_of_test_modules(path.read_text("utf-8"), module, str(relative))
    assert found == [], "helpers imported from test modules:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from tests.edge.test_agent import settings",
        "import tests.edge.test_agent",
        "from tests.edge import test_agent",
        "from .test_agent import settings",
        "from . import test_agent",
        "from tests.cloud.conftest import STAFF",
        "def f():\n    from tests.edge.test_agent import settings",
    ],
)
def test_an_import_of_a_test_module_is_found(source: str) -> None:
    [where] = imports_of_test_modules(source, "tests.edge.test_x", "tests/edge/test_x.py")
    assert where.startswith("tests/edge/test_x.py:")


@pytest.mark.parametrize(
    "source",
    [
        "from tests.edge.harness import settings",
        "from tests.harness import REPO",
        "from . import harness",
        "from edge.test_point import x",  # not under tests
        "import pytest",
    ],
)
def test_an_import_of_a_helper_module_is_not(source: str) -> None:
    assert imports_of_test_modules(source, "tests.edge.test_x", "tests/edge/test_x.py") == []
