"""docker-compose.yml, the Dockerfile and .env.example refer only to things that exist in the project.

No Docker engine runs in CI, so these checks are static: every command a project container runs
names a real module, queue, management command or script; every variable handed to the containers
is one the settings read; and the URLs in .env.example point at the stack's own services.
"""

import ast
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import django
import pytest
import yaml
from django.apps import apps
from django.core.management import get_commands

from avatarsite.celery import QUEUES

PROJECT_DIR = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = PROJECT_DIR / "Dockerfile"
ENV_EXAMPLE = PROJECT_DIR / ".env.example"
SETTINGS_DIR = PROJECT_DIR / "avatarsite" / "settings"

# Variables read by something other than the settings files, which the scan below cannot see.
READ_ELSEWHERE = {
    "DJANGO_SETTINGS_MODULE",  # Django itself: which settings module to load
    "FORWARDED_ALLOW_IPS",  # uvicorn: whose X-Forwarded-* headers to trust
}
# env("NAME", env.bool("NAME", env.db("NAME", env.list("NAME", ... in the settings source.
SETTINGS_READ = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
# "NAME=value", or "# NAME=value" for a variable shown commented out (left at its default).
ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
INTERPOLATED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


# --- Reading the files ---------------------------------------------------------------------------


def settings_variables(*patterns: str) -> set[str]:
    """The variables read by these settings files (glob patterns under avatarsite/settings; all of them by default)."""
    paths = [path for pattern in patterns or ("**/*.py",) for path in sorted(SETTINGS_DIR.glob(pattern))]
    return {name for path in paths for name in SETTINGS_READ.findall(path.read_text())}


def env_example() -> tuple[dict[str, str], set[str]]:
    """The variables .env.example sets (name -> value), and those it shows commented out."""
    values, commented = {}, set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := ENV_LINE.match(line.strip()):
            if match.group(1):
                commented.add(match.group(2))
            else:
                values[match.group(2)] = match.group(3)
    return values, commented


def project_services() -> dict[str, dict]:
    """The services running this project's image (built from the Dockerfile)."""
    return {name: spec for name, spec in SERVICES.items() if "build" in spec}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def dockerfile_exec_form(instruction: str) -> list[str]:
    (arguments,) = [args for name, args in dockerfile_instructions() if name == instruction][-1:]
    return ast.literal_eval(arguments)


def argv(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(item) for item in value]


def option(args: list[str], *names: str) -> str | None:
    """The value of a command-line option given as `-X value`, `--long value` or `--long=value`."""
    for index, arg in enumerate(args):
        if arg in names:
            return args[index + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def module_binds(path: Path, name: str) -> bool:
    """Whether the module binds `name` at its top level (by assignment or import)."""
    bound = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            bound |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {alias.asname or alias.name for alias in node.names}
    return name in bound


def management_commands() -> set[str]:
    # Without the app registry, get_commands() lists Django's own commands only (and caches that).
    if not apps.ready:
        django.setup()
    get_commands.cache_clear()
    return set(get_commands())


def module_file(dotted: str) -> Path:
    return PROJECT_DIR / Path(*dotted.split(".")).with_suffix(".py")


def published_ports(spec: dict) -> dict[int, int]:
    """container port -> host port, from `ports:` in the short "host:container" form."""
    ports = {}
    for entry in spec.get("ports", []):
        host, container = str(entry).rsplit(":", 2)[-2:]
        ports[int(container)] = int(host)
    return ports


# --- Checking one command ------------------------------------------------------------------------


def check_command(command: list[str], where: str) -> None:
    """Fail unless every module, queue, management command or script the command names exists."""
    assert command, f"{where}: no command"
    program, args = command[0], command[1:]
    if program == "celery":
        app = option(args, "-A", "--app")
        assert app, f"{where}: celery without -A"
        assert module_file(f"{app}.celery").exists(), f"{where}: -A {app}, but {app}/celery.py is missing"
        assert module_binds(module_file(f"{app}.celery"), "app"), f"{where}: {app}/celery.py defines no `app`"
        subcommand = next(arg for arg in args if not arg.startswith("-") and arg != app)
        assert subcommand in {"worker", "beat"}, f"{where}: unexpected celery subcommand {subcommand}"
        if queues := option(args, "-Q", "--queues"):
            unknown = set(queues.split(",")) - set(QUEUES)
            assert not unknown, f"{where}: consumes {unknown}, not among the queues of avatarsite/celery.py {QUEUES}"
    elif program == "uvicorn":
        module, _, attribute = args[0].partition(":")
        assert module_file(module).exists(), f"{where}: {args[0]}, but {module_file(module)} is missing"
        assert module_binds(module_file(module), attribute), f"{where}: {module} defines no {attribute}"
    elif program == "python" and args[0] == "manage.py":
        assert (PROJECT_DIR / "manage.py").exists()
        assert args[1] in management_commands(), f"{where}: manage.py has no command {args[1]}"
    elif program == "python":
        assert (PROJECT_DIR / args[0]).is_file(), f"{where}: script {args[0]} is missing"
    else:
        pytest.fail(f"{where}: this test does not know how to check {program}; teach it")


def commands_of(name: str) -> list[tuple[list[str], str]]:
    """Every command a project service runs: its command (or the image's CMD), entrypoint, health check."""
    spec = SERVICES[name]
    commands = [(argv(spec.get("command")) or dockerfile_exec_form("CMD"), f"{name} command")]
    if "entrypoint" in spec:
        commands.append((argv(spec["entrypoint"]), f"{name} entrypoint"))
    if "healthcheck" in spec:
        test = argv(spec["healthcheck"]["test"])
        if test[0] == "CMD-SHELL":
            test = shlex.split(test[1])
        commands.append(([arg for arg in test if arg != "CMD"], f"{name} healthcheck"))
    return commands


def celery_commands() -> list[list[str]]:
    return [command for name in project_services() for command, _ in commands_of(name) if command[0] == "celery"]


# --- The stack -----------------------------------------------------------------------------------


def test_the_stack_has_every_service_a_deployment_needs():
    expected = {"migrate", "web", "worker-premium", "worker-standard", "beat", "postgres", "redis", "minio", "minio-init"}
    assert expected <= set(SERVICES), f"missing services: {expected - set(SERVICES)}"
    assert {"migrate", "web", "worker-premium", "worker-standard", "beat"} <= set(project_services())


@pytest.mark.parametrize("name", sorted(project_services()))
def test_project_service_commands_refer_to_things_that_exist(name):
    for command, where in commands_of(name):
        check_command(command, where)


def test_the_checks_reject_commands_that_name_missing_things():
    """Guards check_command itself: each of these typos must fail it."""
    typos = [
        ["celery", "-A", "avatarsitee", "worker", "-Q", "premium"],
        ["celery", "-A", "avatarsite", "worker", "-Q", "premuim"],
        ["celery", "-A", "avatarsite", "wokrer"],
        ["uvicorn", "avatarsite.asgi:applicaton"],
        ["uvicorn", "avatarsite.agsi:application"],
        ["python", "manage.py", "migrat"],
        ["python", "docker/no-such-script.py"],
        ["gunicorn", "avatarsite.wsgi"],
    ]
    for command in typos:
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check_command(command, "typo")


def test_every_queue_has_exactly_one_worker_service():
    consumed = [queue for command in celery_commands() for queue in (option(command, "-Q", "--queues") or "").split(",") if queue]
    assert sorted(consumed) == sorted(QUEUES), f"queues consumed {consumed}, declared {QUEUES}"


def test_worker_commands_set_their_concurrency_and_one_beat_runs():
    workers = [(name, command) for name in project_services() for command, _ in commands_of(name) if command[:1] == ["celery"]]
    workers = [(name, command) for name, command in workers if "worker" in command]
    assert workers
    for name, command in workers:
        environment = SERVICES[name].get("environment") or {}
        given = option(command, "-c", "--concurrency") or environment.get("CELERY_WORKER_CONCURRENCY")
        assert given, f"{command} leaves the concurrency to the CPU count"
        # Celery reads `-P prefork` as "no -P given": the pool is chosen where the concurrency is.
        assert environment.get("CELERY_WORKER_POOL"), f"{name} leaves its pool to .env"
    beats = [command for command in celery_commands() if "beat" in command]
    assert len(beats) == 1, "exactly one beat, or every scheduled task is sent twice"


def test_services_wait_only_for_services_that_can_report_it():
    for name, spec in SERVICES.items():
        for target, condition in (spec.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on unknown service {target}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target} to be healthy; it has no healthcheck"
            elif condition["condition"] == "service_completed_successfully":
                assert SERVICES[target].get("restart", "no") == "no", f"{target} is one-shot; a restart policy reruns it"


def test_web_postgres_and_redis_have_health_checks_and_redis_never_evicts():
    for name in ("web", "postgres", "redis", "minio"):
        assert "healthcheck" in SERVICES[name], f"{name} has no healthcheck"
    assert "/healthz" in (PROJECT_DIR / "docker" / "healthcheck.py").read_text()
    redis = argv(SERVICES["redis"]["command"])
    assert option(redis, "--maxmemory-policy") == "noeviction", "a broker must never evict queued tasks"


def test_files_mounted_into_services_exist():
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (PROJECT_DIR / source).exists(), f"{name} mounts missing {source}"


def test_minio_init_runs_its_mounted_script_with_every_variable_it_uses():
    spec = SERVICES["minio-init"]
    script_in_container = argv(spec["entrypoint"])[-1]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in spec["volumes"]}
    assert script_in_container in mounts, f"minio-init runs {script_in_container}, which is not mounted"
    script = (PROJECT_DIR / mounts[script_in_container]).read_text()
    used = set(SHELL_VARIABLE.findall(script))
    assert used, "the script was expected to take its names and keys from the environment"
    assert used <= set(spec["environment"]), f"minio-init does not set {used - set(spec['environment'])}"
    for bucket_variable in ("R2_BUCKET", "R2_PUBLIC_BUCKET"):
        assert f"${bucket_variable}" in script, f"minio-init creates no bucket from {bucket_variable}"
    assert "anonymous set download" in script


# --- Variables -----------------------------------------------------------------------------------


def test_settings_scan_finds_the_variables_it_must():
    """Guards the regex: if it found nothing, the variable checks would pass vacuously."""
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "R2_BUCKET", "DJANGO_DEBUG", "EMAIL_URL"} <= settings_variables()
    assert not READ_ELSEWHERE & settings_variables(), "a variable the settings read needs no allowlist entry"


def test_every_project_container_reads_the_dotenv_file():
    for name, spec in project_services().items():
        assert spec.get("env_file") in (".env", [".env"]), f"{name} must read .env (made from .env.example)"


def test_every_variable_given_to_project_containers_is_one_the_settings_read():
    known = settings_variables() | READ_ELSEWHERE
    for name, spec in project_services().items():
        environment = spec.get("environment") or {}
        names = set(environment) if isinstance(environment, dict) else {item.split("=", 1)[0] for item in environment}
        assert names <= known, f"{name} sets {names - known}, which nothing reads"
    values, commented = env_example()
    assert set(values) - known == set(), f".env.example sets {set(values) - known}, which nothing reads"
    assert commented - known == set(), f".env.example shows {commented - known}, which nothing reads"


def test_env_example_lists_every_variable_the_settings_read_with_a_comment():
    values, commented = env_example()
    missing = settings_variables("base.py", "components/*.py", "production.py") - set(values) - commented
    assert not missing, f"add {missing} to .env.example (commented out if the default is right)"
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := ENV_LINE.match(line.strip()):
            described = previous.startswith("#") and not ENV_LINE.match(previous)
            assert described, f".env.example: {match.group(2)} needs a comment line right above it"
        previous = line.strip()


def test_env_example_has_what_production_cannot_start_without():
    values, _ = env_example()
    required = {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"}
    required |= {"DJANGO_DEFAULT_FROM_EMAIL", "R2_ENDPOINT_URL", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_BUCKET"}
    required |= {"R2_PUBLIC_BUCKET", "R2_PUBLIC_URL"}
    assert required <= set(values), f"production requires {required - set(values)}"
    assert module_file(values["DJANGO_SETTINGS_MODULE"]).exists(), f"no settings module {values['DJANGO_SETTINGS_MODULE']}"


def test_compose_interpolates_only_variables_the_env_example_sets():
    values, _ = env_example()
    interpolated = set(INTERPOLATED.findall(COMPOSE_FILE.read_text()))
    assert interpolated, "MinIO's account and buckets were expected to come from .env"
    assert interpolated <= set(values), f"docker-compose.yml uses {interpolated - set(values)}, which .env.example does not set"


def test_env_example_points_at_the_stacks_own_services():
    values, _ = env_example()
    postgres_env = SERVICES["postgres"]["environment"]
    database = urlsplit(values["DATABASE_URL"])
    assert database.scheme in {"postgres", "postgresql"}
    assert database.hostname == "postgres"
    assert (database.username, database.password, database.path.lstrip("/")) == (
        postgres_env["POSTGRES_USER"],
        postgres_env["POSTGRES_PASSWORD"],
        postgres_env["POSTGRES_DB"],
    ), "DATABASE_URL and the postgres service disagree"
    assert urlsplit(values["REDIS_URL"]).hostname == "redis"

    minio = SERVICES["minio"]
    aliases = {alias for network in (minio.get("networks") or {}).values() for alias in (network or {}).get("aliases", [])}
    endpoint = urlsplit(values["R2_ENDPOINT_URL"])
    assert endpoint.hostname in {"minio"} | aliases, f"R2_ENDPOINT_URL {endpoint.hostname} is not the minio service"
    # Presigned URLs are signed for the endpoint's host:port; the browser must reach the same one.
    assert endpoint.hostname.endswith(".localhost"), "a presigned private URL would not open in the browser"
    assert published_ports(minio).get(endpoint.port) == endpoint.port
    public = urlsplit(values["R2_PUBLIC_URL"])
    assert public.hostname in {"localhost", endpoint.hostname}
    assert published_ports(minio).get(public.port) == public.port
    assert public.path.strip("/") == values["R2_PUBLIC_BUCKET"]
    assert values["R2_REGION"] == "us-east-1", "MinIO has no region 'auto'"

    # Plain HTTP on the published web port.
    web_port = published_ports(SERVICES["web"])[8000]
    assert values["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert f"http://localhost:{web_port}" in values["DJANGO_CSRF_TRUSTED_ORIGINS"].split(",")
    assert "localhost" in values["DJANGO_ALLOWED_HOSTS"].split(",")


# --- The image -----------------------------------------------------------------------------------


def test_dockerfile_copies_files_that_exist():
    copies = [args.split() for name, args in dockerfile_instructions() if name == "COPY"]
    assert ["requirements.txt", "."] in copies, "the requirements are installed before the code is copied"
    for args in copies:
        for source in [arg for arg in args if not arg.startswith("--")][:-1]:
            assert source == "." or (PROJECT_DIR / source).exists(), f"COPY of missing {source}"


def test_dockerfile_builds_static_files_and_runs_production_settings_as_a_non_root_user():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    (collectstatic,) = [args for name, args in instructions if name == "RUN" and "collectstatic" in args]
    assert "DJANGO_SETTINGS_MODULE=avatarsite.settings.base" in collectstatic.split()
    assert "DJANGO_DEBUG=false" in collectstatic.split(), "with DEBUG on, the manifest storage is not used"
    for command in re.findall(r"python manage\.py (\S+)", collectstatic):
        assert command in management_commands(), f"manage.py has no command {command}"

    users = [args for name, args in instructions if name == "USER"]
    assert users, "the processes must not run as root"
    assert users[-1] not in {"root", "0"}, "the processes must not run as root"
    env = " ".join(args for name, args in instructions if name == "ENV")
    (runtime_settings,) = re.findall(r"DJANGO_SETTINGS_MODULE=(\S+)", env)
    assert runtime_settings == "avatarsite.settings.production"
    assert module_file(runtime_settings).exists()


def test_dockerfile_serves_the_asgi_app():
    command = dockerfile_exec_form("CMD")
    assert command[0] == "uvicorn"
    check_command(command, "Dockerfile CMD")
    port = int(option(command, "--port"))
    assert port in published_ports(SERVICES["web"]), "web does not publish the port uvicorn listens on"


# --- Metrics -------------------------------------------------------------------------------------


def test_prometheus_scrapes_the_web_servers_metrics_with_the_token_and_the_processes_share_one_metrics_folder():
    prometheus = SERVICES["prometheus"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in prometheus["volumes"]}
    config = yaml.safe_load((PROJECT_DIR / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"web:{option(dockerfile_exec_form('CMD'), '--port')}"]
    # The token reaches Prometheus only through the file its entrypoint writes from METRICS_TOKEN.
    credentials = job["authorization"]["credentials_file"]
    assert f'"$$METRICS_TOKEN" > {credentials}' in argv(prometheus["entrypoint"])[-1]
    assert "METRICS_TOKEN" in prometheus["environment"]
    assert "METRICS_TOKEN" in settings_variables()
    assert "METRICS_TOKEN" in env_example()[0]

    folders = set()
    for name, spec in project_services().items():
        if name == "migrate":
            continue
        folder = spec["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"metrics-data:{folder}" in spec["volumes"], f"{name} writes its metrics outside the shared volume"
        folders.add(folder)
    (folder,) = folders
    created = [args for name, args in dockerfile_instructions() if name == "RUN" and folder in args]
    assert created, f"the Dockerfile does not make {folder}"
    assert "chown avatarsite" in created[0], "the volume takes its owner from the image's folder"
