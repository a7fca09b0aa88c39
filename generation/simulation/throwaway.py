"""The throwaway database a simulation runs on: the command runs itself again in a child process whose
environment names a temporary SQLite file, media directory and the in-process broker and cache; the
child migrates that database, plays the month and writes its figures; the directory is then deleted.
The operator's database is only read once, for the provider catalogue in force (its prices)."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from ..providers.registry import catalogue
from .run import Figures

STANDIN_BACKEND = "generation.providers.standin.PricedStandIn"


class SimulationFailedError(Exception):
    """The child process ended without figures."""


@dataclass(frozen=True)
class Throwaway:
    directory: Path

    @property
    def database(self) -> Path:
        return self.directory / "simulation.sqlite3"

    @property
    def catalogue(self) -> Path:
        return self.directory / "catalogue.json"

    @property
    def figures(self) -> Path:
        return self.directory / "figures.json"

    def environment(self) -> dict[str, str]:
        """The child's environment: the parent's, with every store pointed into the directory
        (no Redis, no R2: the in-process broker and cache, local files) and no NSFW scoring (the
        stand-in's one-colour images need none; it is not a cost)."""
        return {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "DJANGO_MEDIA_ROOT": str(self.directory / "media"),
            "REDIS_URL": "",
            "R2_ENDPOINT_URL": "",
            "GENERATION_PROVIDER_CATALOGUE": "",
            "GENERATION_NSFW_CLASSIFIER": "",
        }


def standin_catalogue(configs: dict) -> dict:
    """The catalogue with every paid provider played by a priced stand-in (same name, models,
    sizes and prices); the local generator stays itself (it is free and ours)."""
    stand_ins = {}
    for name, config in configs.items():
        models = (config.get("OPTIONS") or {}).get("models")
        if name == "local" or not models:
            stand_ins[name] = config
        else:
            stand_ins[name] = {"BACKEND": STANDIN_BACKEND, "OPTIONS": {"name": name, "models": models}}
    return stand_ins


def operator_catalogue() -> dict:
    """The providers' configs in force here (the catalogue rows, else settings). A SQLite database
    that does not exist yet is not created by asking."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not Path(str(database["NAME"])).exists():
        return settings.GENERATION_PROVIDERS
    try:
        return catalogue(fresh=True)
    except DatabaseError:  # no catalogue table (an unmigrated database): the shipped catalogue
        return settings.GENERATION_PROVIDERS


def throwaway_run(*, child_args: list[str], keep_db: str = "") -> Figures:
    """Run `manage.py simulate_traffic <child_args> --in-throwaway-db=<directory>` on a throwaway
    database and return its figures; the directory is deleted afterwards (the database copied to
    `keep_db` first when given)."""
    place = Throwaway(Path(tempfile.mkdtemp(prefix="simulate-traffic-")))
    try:
        place.catalogue.write_text(json.dumps(standin_catalogue(operator_catalogue())))
        manage = Path(settings.BASE_DIR) / "manage.py"
        # Our own interpreter and manage.py, with the options this command parsed: no shell, no outside input.
        command = [sys.executable, str(manage), "simulate_traffic", *child_args, f"--in-throwaway-db={place.directory}"]
        done = subprocess.run(command, env=place.environment(), cwd=settings.BASE_DIR, check=False)  # noqa: S603
        if done.returncode or not place.figures.exists():
            raise SimulationFailedError(f"the simulation's process ended with status {done.returncode}")
        if keep_db:
            shutil.copyfile(place.database, keep_db)
        return figures_load(place.figures.read_text())
    finally:
        shutil.rmtree(place.directory, ignore_errors=True)


def throwaway_of_child(directory: str) -> Throwaway | None:
    """The throwaway place of a simulation's child, when this process's database is its database
    (and nothing else): None otherwise, and the child refuses to run."""
    place = Throwaway(Path(directory))
    return place if str(settings.DATABASES["default"]["NAME"]) == str(place.database) else None


def child_catalogue(place: Throwaway) -> dict:
    return json.loads(place.catalogue.read_text())


def figures_save(place: Throwaway, figures: Figures) -> None:
    place.figures.write_text(json.dumps(dataclasses.asdict(figures), default=str))


def figures_load(text: str) -> Figures:
    data = json.loads(text)
    for name in ("spend", "billed_by_providers"):
        data[name] = Decimal(data[name])
    for name in ("spend_by_provider", "spend_by_plan"):
        data[name] = {key: Decimal(value) for key, value in data[name].items()}
    return Figures(**data)
