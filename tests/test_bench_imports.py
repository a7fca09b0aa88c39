"""The benchmarks under bench/ are run by hand (`make bench`), not by the suite: every name they
import, at the top or inside a function, must still exist, so a module moved or renamed in the code
breaks this test instead of a benchmark someone runs months later."""

import ast
import importlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("avatarsite", "gallery", "generation", "billing", "bench", "tests")


def _our_imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, name or None, line) for each import of our own code in the file, wherever it sits."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] in OUR_PACKAGES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in OUR_PACKAGES:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


def _missing(path: Path) -> list[str]:
    missing = []
    for module_name, name, line in _our_imports(path):
        where = f"{path.name}:{line}"
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing.append(f"{where} {module_name}: {exc}")
            continue
        if name is not None and name != "*" and not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")  # `from package import module`
            except ImportError:
                missing.append(f"{where} {module_name}.{name}")
    return missing


@pytest.mark.parametrize("path", sorted((ROOT / "bench").glob("*.py")), ids=lambda path: path.name)
def test_every_name_a_benchmark_imports_exists(path):
    assert _missing(path) == []


def test_a_name_that_is_gone_is_found(tmp_path):
    script = tmp_path / "old_bench.py"
    script.write_text(
        "import gallery.imaging\n"
        "def run():\n"
        "    from avatarsite.core import demo\n"
        "    from gallery import imaging\n"
        "    from gallery.selectors import avatar_page, no_such_selector\n"
    )

    assert _missing(script) == ["old_bench.py:3 avatarsite.core.demo", "old_bench.py:5 gallery.selectors.no_such_selector"]
