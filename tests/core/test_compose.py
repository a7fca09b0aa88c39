"""docker-compose.yml refers only to things that exist here (no Docker engine runs on CI)."""

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from avatarsite.celery import QUEUES

PROJECT_DIR = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROJECT_IMAGE = "avatarsite:latest"
# Read by tools rather than by our settings: Django's own selector of the settings module.
READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE"}
SETTINGS_READ = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z0-9_]+)["']""")


def _settings_variables() -> set[str]:
    names = set()
    for path in (PROJECT_DIR / "avatarsite" / "settings").glob("*.py"):
        names |= set(SETTINGS_READ.findall(path.read_text()))
    return names


def _project_services() -> dict[str, dict]:
    return {name: spec for name, spec in SERVICES.items() if spec.get("image") == PROJECT_IMAGE or "build" in spec}


def _command(spec: dict) -> list[str]:
    command = spec.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _defines(module_path: Path, name: str) -> bool:
    """Whether the module binds `name` at its top level (by assignment or import)."""
    names = set()
    for node in ast.parse(module_path.read_text()).body:
        if isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return name in names


def _check_asgi_target(target: str) -> None:
    module, _, attribute = target.partition(":")
    path = PROJECT_DIR / Path(*module.split(".")).with_suffix(".py")
    assert path.exists(), f"{target}: {path} is missing"
    assert _defines(path, attribute), f"{target}: {path.name} defines no {attribute}"


def test_the_stack_has_every_service_a_deployment_needs():
    expected = {"web", "worker-premium", "worker-standard", "beat", "postgres", "redis", "minio", "minio-init"}
    assert expected <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(_project_services()))
def test_project_service_commands_refer_to_things_that_exist(name):
    command = _command(SERVICES[name])
    assert command, f"{name} has no command"
    program = command[0]
    if program == "celery":
        app = command[command.index("-A") + 1]
        assert (PROJECT_DIR / app / "celery.py").exists()
        assert _defines(PROJECT_DIR / app / "__init__.py", "celery_app")
        assert command[command.index("-A") + 2] in {"worker", "beat"}
        if "-Q" in command:
            queues = command[command.index("-Q") + 1].split(",")
            assert set(queues) <= set(QUEUES), f"{name} consumes unknown queues {set(queues) - set(QUEUES)}"
    elif program == "uvicorn":
        _check_asgi_target(command[1])
    elif program == "python" and command[1] == "manage.py":
        assert command[2] in get_commands(), f"manage.py has no command {command[2]}"
    else:
        pytest.fail(f"{name}: don't know how to check {program}")


def test_every_queue_has_a_worker():
    consumed = set()
    for spec in _project_services().values():
        command = _command(spec)
        if "-Q" in command:
            consumed |= set(command[command.index("-Q") + 1].split(","))
    assert consumed == set(QUEUES)


def test_files_mounted_into_services_exist():
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (PROJECT_DIR / source).exists(), f"{name} mounts missing {source}"


def test_every_variable_set_for_the_project_is_one_the_settings_read():
    settings_vars = _settings_variables() | READ_ELSEWHERE
    env_example = PROJECT_DIR / ".env.example"
    example_vars = {
        line.split("=", 1)[0].strip() for line in env_example.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    set_in_compose = set()
    for name, spec in _project_services().items():
        assert spec.get("env_file") in (".env", [".env"]), f"{name} must read .env (made from .env.example)"
        environment = spec.get("environment", {})
        set_in_compose |= set(environment if isinstance(environment, dict) else [item.split("=")[0] for item in environment])

    assert example_vars - settings_vars == set()
    assert set_in_compose - settings_vars == set()
    # And the example covers what production cannot start without.
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "R2_ENDPOINT_URL", "R2_PUBLIC_URL"} <= example_vars


def test_settings_scan_finds_the_variables_it_must():
    """Guards the regex above: if it found nothing, the variable check would pass vacuously."""
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "R2_BUCKET", "DJANGO_DEBUG"} <= _settings_variables()


def test_dockerfile_copies_files_that_exist_and_serves_the_asgi_app():
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.MULTILINE):
        assert source == "." or (PROJECT_DIR / source).exists(), f"COPY of missing {source}"
    cmd = ast.literal_eval(re.search(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE).group(1))
    assert cmd[0] == "uvicorn"
    _check_asgi_target(cmd[1])
