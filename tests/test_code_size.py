"""No module of the apps or of `avatarsite/` is over 400 lines and no function over 60 (migrations
excepted): a file or function past that has grown a second job, and is split by job before it grows more."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("avatarsite", "gallery", "generation", "billing")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def _oversized(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        source = path.read_text()
        lines = len(source.splitlines())
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        if lines > MAX_MODULE_LINES:
            found.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    return found


def test_no_module_or_function_is_past_its_size():
    modules = _modules()
    assert len(modules) > 100  # the walk found the code
    assert _oversized(modules) == []


def test_the_size_check_finds_a_long_module_and_a_long_function(tmp_path):
    package = tmp_path / "app"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (package / "long_function.py").write_text(f"def grown():\n{body}\n")
    (package / "long_module.py").write_text("\n".join(f"X{i} = {i}" for i in range(MAX_MODULE_LINES + 1)) + "\n")
    (package / "fine.py").write_text("def short():\n    return 1\n")

    found = _oversized(sorted(package.glob("*.py")))

    assert found == [f"long_function.py:1 grown(): {MAX_FUNCTION_LINES + 1} lines", f"long_module.py: {MAX_MODULE_LINES + 1} lines"]
