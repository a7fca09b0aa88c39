"""Plays a month of traffic through the real generation services on a throwaway database and prints
the unit economics (cost per user per month, reuse share, spend by provider and plan) next to the seed's."""

import argparse
import logging
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings

from generation.simulation import mix as mixes
from generation.simulation.report import economics_line, report_lines
from generation.simulation.run import simulate
from generation.simulation.throwaway import (
    SimulationFailedError,
    child_catalogue,
    figures_save,
    throwaway_of_child,
    throwaway_run,
)

# Options passed on to the child process as they were given.
_MIX_OPTIONS = ("users", "generating_share", "days", "seed", "zipf", "preset_share", "instant_share", "premium_share", "enterprise_share")


class Command(BaseCommand):
    help = (
        "Simulate N users' month through the real services (provider calls simulated at list prices) on a "
        "throwaway database; print cost per user per month and reuse share next to the seed's projection."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=mixes.SEED_USERS, help="Users a month (default 100,000).")
        parser.add_argument("--generating-share", type=float, default=mixes.SEED_GENERATING_SHARE, help="Share who generate (0.3).")
        parser.add_argument("--days", type=int, default=30, help="Days simulated (default 30); money is scaled to a month.")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the random mix: the same seed, the same figures.")
        parser.add_argument("--zipf", type=float, default=mixes.PROMPT_ZIPF_EXPONENT, help="Zipf exponent of free prompts (> 1).")
        parser.add_argument("--preset-share", type=float, default=mixes.PRESET_SHARE, help="Share of requests taking a preset.")
        parser.add_argument("--instant-share", type=float, default=mixes.INSTANT_SHARE, help="Share for instant (free) styles.")
        parser.add_argument("--premium-share", type=float, default=mixes.PREMIUM_SHARE, help="Share of users on premium.")
        parser.add_argument("--enterprise-share", type=float, default=mixes.ENTERPRISE_SHARE, help="Share on enterprise.")
        parser.add_argument("--keep-db", default="", help="Copy the throwaway SQLite database here before it is deleted.")
        parser.add_argument("--in-throwaway-db", default="", help=argparse.SUPPRESS)  # the child's directory

    def handle(self, *args, **options) -> None:
        config = _config(options)
        if options["in_throwaway_db"]:
            return self._play(config, directory=options["in_throwaway_db"])
        child_args = [f"--{name.replace('_', '-')}={options[name]}" for name in _MIX_OPTIONS]
        try:
            figures = throwaway_run(child_args=child_args, keep_db=options["keep_db"])
        except SimulationFailedError as exc:
            raise CommandError(str(exc)) from exc
        for line in report_lines(figures):
            self.stdout.write(line)
        self.stdout.write(economics_line(figures))

    def _play(self, config: mixes.MixConfig, *, directory: str) -> None:
        """The child's part, on the throwaway database only."""
        place = throwaway_of_child(directory)
        if place is None:
            raise CommandError("--in-throwaway-db is the simulation's own child process; run simulate_traffic without it.")
        call_command("migrate", verbosity=0, interactive=False)
        # The in-process broker keeps the jobs' messages (this process runs the jobs itself): its
        # "no hostname" notice says nothing here.
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        from rich.console import Console  # an operator's tool: not loaded by the site
        from rich.progress import Progress

        mix = mixes.mix_build(config)
        with override_settings(GENERATION_PROVIDERS=child_catalogue(place)), Progress(console=Console(stderr=True)) as progress:
            task = progress.add_task(f"{len(mix.requests):,} requests", total=len(mix.requests))
            figures = simulate(config=config, mix=mix, advance=lambda n: progress.advance(task, n))
        figures_save(place, figures)
        sys.stderr.flush()


def _config(options: dict) -> mixes.MixConfig:
    """The mix the options describe, or CommandError saying which option is wrong."""
    if options["users"] < 1:
        raise CommandError("--users must be at least 1.")
    if options["days"] < 1 or options["days"] > 366:
        raise CommandError("--days must be between 1 and 366.")
    for name in ("generating_share", "preset_share", "instant_share", "premium_share", "enterprise_share"):
        if not 0 <= options[name] <= 1:
            raise CommandError(f"--{name.replace('_', '-')} must be a share between 0 and 1 (got {options[name]}).")
    if options["zipf"] <= 1:
        raise CommandError("--zipf must be above 1 (a Zipf law needs an exponent > 1 to be a distribution).")
    return mixes.MixConfig(
        users=options["users"],
        generating_share=options["generating_share"],
        days=options["days"],
        seed=options["seed"],
        premium_share=options["premium_share"],
        enterprise_share=options["enterprise_share"],
        preset_share=options["preset_share"],
        zipf_exponent=options["zipf"],
        instant_share=options["instant_share"],
    )
