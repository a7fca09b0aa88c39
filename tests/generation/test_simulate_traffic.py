"""`manage.py simulate_traffic`: a small month runs through the real services on a throwaway SQLite
database (a child process), its figures are the ledger's and the job rows', the same seed gives
the same figures, the operator's database is not touched, and bad options are refused."""

import re
import sqlite3
import tempfile
from collections import Counter
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from generation.models import CostEntry, GenerationJob
from generation.prompts import PROMPT_SUGGESTIONS, SURPRISE_PROMPTS
from generation.simulation.mix import MixConfig, mix_build, prompt_of_rank
from tests.generation.factories import CostEntryFactory

ECONOMICS = re.compile(r"^economics cost_per_user=\$(?P<cost>\d+\.\d{6}) reuse_share=(?P<reuse>\d\.\d{4})$")
SMALL = {"users": 300, "generating_share": 0.3, "days": 30, "seed": 1}
ARGS = ["--users", "300", "--generating-share", "0.3", "--days", "30", "--seed", "1"]
# The catalogue's prices for a 1024 px image (avatarsite/settings/components/generation.py).
PRICES = {
    ("fal", "fal-ai/flux/schnell"): Decimal("0.003"),
    ("fal", "fal-ai/flux/dev"): Decimal("0.025"),
    ("replicate", "black-forest-labs/flux-schnell"): Decimal("0.003"),
    ("replicate", "black-forest-labs/flux-dev"): Decimal("0.025"),
    ("local", "avatarsite/parts-v2"): Decimal("0"),
}


def _simulate(*args: str) -> list[str]:
    out = StringIO()
    call_command("simulate_traffic", *args, stdout=out)
    return out.getvalue().splitlines()


def _operator_rows() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "jobs": GenerationJob.objects.count(),
        "ledger": CostEntry.objects.count(),
    }


def _leftovers() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("simulate-traffic-*"))


@pytest.mark.django_db
def test_a_small_month_is_booked_in_the_ledger_at_the_catalogue_prices_and_reported_from_it(tmp_path):
    CostEntryFactory(provider="fal", model="fal-ai/flux/schnell", cost_usd=Decimal("0.5"))
    before, leftovers = _operator_rows(), _leftovers()
    kept = tmp_path / "kept.sqlite3"

    lines = _simulate(*ARGS, "--keep-db", str(kept))

    assert _operator_rows() == before  # every row it wrote went to the throwaway database
    assert _leftovers() == leftovers  # which is deleted (a copy was kept here as asked)
    assert any("SIMULATED at the providers' list prices" in line for line in lines)
    economics = ECONOMICS.match(lines[-1])
    assert economics, lines[-1]
    with sqlite3.connect(kept) as db:
        ledger = db.execute("SELECT provider, model, plan, images, cost_usd FROM generation_costentry").fetchall()
        reused = db.execute("SELECT COUNT(*) FROM generation_generationjob WHERE reused_from_id IS NOT NULL").fetchone()[0]
        simulated_users = db.execute("SELECT COUNT(*) FROM accounts_user WHERE username LIKE 'sim-user-%'").fetchone()[0]
        # The month is a month to the services: each simulated day's rows were moved a day back.
        span_days = db.execute("SELECT julianday(MAX(created_at)) - julianday(MIN(created_at)) FROM generation_generationjob").fetchone()[0]
        granted = db.execute("SELECT source, COUNT(*) FROM billing_subscription GROUP BY source").fetchall()
    requests = len(mix_build(MixConfig(**SMALL)).requests)
    assert simulated_users == 90  # 30 % of 300 generate
    assert 20 < span_days < 30
    assert granted == [("operator", 2)]  # 0.5 % of 300 on premium, given as an operator would
    assert reused > 0  # the month had repeats
    assert ledger  # and paid calls
    # Each line at its model's list price; the figures printed are the ledger's sum and the jobs' count.
    assert all(Decimal(str(cost)) == PRICES[(provider, model)] * images for provider, model, _, images, cost in ledger), ledger
    spend = sum((Decimal(str(line[-1])) for line in ledger), Decimal(0))
    assert economics["cost"] == f"{spend / 300:.6f}"
    assert economics["reuse"] == f"{reused / requests:.4f}"
    assert {plan for _, _, plan, _, _ in ledger} <= {"free", "premium", "enterprise"}
    assert any(line.strip().startswith("plan premium") for line in lines)


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_figures_and_another_seed_other_ones():
    first, again = _simulate(*ARGS), _simulate(*ARGS)
    other = _simulate("--users", "300", "--days", "30", "--seed", "2")

    def figures(lines: list[str]) -> list[str]:
        return lines[1:]  # the first line carries the run's duration

    assert figures(first) == figures(again)
    assert first[-1] != other[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generating-share", "1.5"], "--generating-share must be a share between 0 and 1"),
        (["--users", "0"], "--users must be at least 1"),
        (["--days", "0"], "--days must be between 1 and 366"),
        (["--zipf", "1"], "--zipf must be above 1"),
    ],
)
def test_bad_options_are_refused_with_what_is_wrong(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate_traffic", *args)


@pytest.mark.django_db
def test_the_child_part_refuses_to_run_on_any_database_but_its_throwaway_one(tmp_path):
    before = _operator_rows()
    with pytest.raises(CommandError, match="simulation's own child process"):
        call_command("simulate_traffic", "--users", "10", f"--in-throwaway-db={tmp_path}")
    assert _operator_rows() == before


@pytest.mark.fast
def test_the_mix_follows_its_assumptions_and_its_seed():
    config = MixConfig(users=20_000, generating_share=0.3, days=30, seed=7)
    mix, again = mix_build(config), mix_build(config)
    assert mix.requests == again.requests
    assert mix_build(MixConfig(users=20_000, generating_share=0.3, days=30, seed=8)).requests != mix.requests
    assert mix.plans.count("premium") == 100  # 0.5 % of the users
    assert mix.plans.count("enterprise") == 10
    assert len(mix.plans) == 6_000  # 30 % generate
    free = sum(1 for request in mix.requests if mix.plans[request.user] == "free")
    assert 0.9 < free / 5_890 < 1.1  # about one generation a month per generating free user (seed 001 §4.2)
    assert [request.day for request in mix.requests] == sorted(request.day for request in mix.requests)
    presets = {suggestion.prompt for suggestion in PROMPT_SUGGESTIONS} | set(SURPRISE_PROMPTS)
    share = sum(1 for request in mix.requests if request.prompt in presets) / len(mix.requests)
    assert 0.3 < share < 0.4  # PRESET_SHARE
    free_prompts = Counter(request.prompt for request in mix.requests if request.prompt not in presets)
    assert free_prompts.most_common(1)[0][0] == prompt_of_rank(1)  # Zipf: rank 1 is the most asked
    assert len(free_prompts) > 1_000  # and a long tail of prompts asked once
