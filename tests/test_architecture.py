"""The directions of dependency of docs/architecture.md hold: `lint-imports` keeps every contract in
pyproject.toml, and breaks the one an illegal import crosses."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("avatarsite", "gallery", "generation", "billing", "catalogue", "ops")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # --no-cache: nothing written into the checkout; the graph of ~200 modules takes well under a second.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_every_import_follows_the_documented_directions():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("gallery/selectors.py", "import generation.models", "gallery knows neither generation nor billing"),
        ("billing/services/checkout.py", "import gallery.selectors", "billing knows neither gallery nor generation"),
        ("generation/models.py", "import generation.services", "Inside each app: entry points -> tasks -> services"),
        ("generation/services/request.py", "import billing.selectors", "Outside billing, only billing.entitlements is read"),
        ("avatarsite/core/storage.py", "import gallery.selectors", "core is shared helpers: it imports no app"),
        ("avatarsite/runtime/asgi.py", "import generation.selectors", "runtime only tunes processes and servers"),
        ("generation/providers/fal.py", "import generation.models", "Providers and importers are plain Python"),
        ("gallery/views.py", "import stripe", "Only billing.stripe_client imports stripe"),
        ("generation/dispatch.py", "import generation.tasks", "Inside each app: entry points -> tasks"),
        ("generation/payloads.py", "import generation.views", "Inside each app: entry points -> tasks"),
        ("catalogue/selectors.py", "import generation.providers.registry", "The provider catalogue knows no other app"),
        ("ops/views.py", "import generation.models", "ops reads apps only through their reports modules"),
        ("ops/selectors.py", "import billing.models", "ops reads apps only through their reports modules"),
    ],
    ids=[
        "gallery-to-generation",
        "billing-to-gallery",
        "models-to-services",
        "billing-internals",
        "core-to-app",
        "runtime-to-app",
        "provider-to-models",
        "stripe",
        "dispatch-to-tasks",
        "payloads-to-views",
        "catalogue-to-generation",
        "ops-to-generation-models",
        "ops-to-billing-models",
    ],
)
def test_an_import_against_a_direction_breaks_its_contract(tmp_path, module, line, contract):
    """The same check on a copy of the packages with one illegal import added: lint-imports fails and names
    the contract, so the test above cannot pass by checking nothing."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    untouched = _lint_imports(tmp_path)
    assert untouched.returncode == 0, untouched.stdout  # the copy alone keeps every contract
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in " ".join(broken.split()), result.stdout
