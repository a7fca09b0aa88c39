"""The simulation's figures as text, next to the seed's projection; the last line is machine-read."""

from decimal import Decimal

from .mix import (
    SEED_AI_MONTHLY_USD,
    SEED_COST_PER_USER,
    SEED_FIXED_MONTHLY_USD,
    SEED_REUSE_SHARE,
    SEED_USERS,
)
from .run import Figures


def economics_line(figures: Figures) -> str:
    """The last line: cost per user per month (USD) and the share of requests answered by reuse."""
    return f"economics cost_per_user=${figures.cost_per_user_month:.6f} reuse_share={figures.reuse_share:.4f}"


def _money(value: Decimal) -> str:
    return f"${value:,.4f}"


def _per_month(figures: Figures, value: Decimal) -> Decimal:
    return value * 30 / figures.days


def report_lines(figures: Figures) -> list[str]:
    share = figures.generating_users / figures.users if figures.users else 0
    mix = figures.mix
    lines = [
        f"Traffic simulation: {figures.users:,} users, {figures.generating_users:,} of them generating ({share:.0%}),"
        f" over {figures.days} day(s), seed {figures.seed}, in {figures.seconds:,.0f} s.",
        "Every request went through the real services (generation_job_create, then generation_job_run as a worker)"
        " on a throwaway SQLite database, since deleted.",
        "The provider calls were SIMULATED at the providers' list prices (the catalogue in force): nothing was sent"
        " to fal or Replicate and nothing was billed.",
        f"Mix: presets {mix['preset_share']:.0%}, free prompts Zipf(s={mix['zipf_exponent']}), instant styles"
        f" {mix['instant_share']:.0%}, variations {mix['variation_share']:.0%}; paid plans: premium {mix['premium_share']:.2%},"
        f" enterprise {mix['enterprise_share']:.2%} of users.",
        "",
        f"requests          {figures.requests:>10,}",
        f"  reused          {figures.reused:>10,}  (answered from a stored result, no provider call)",
        f"  provider runs   {figures.provider_runs:>10,}",
        f"  local runs      {figures.local_runs:>10,}  (instant styles: free)",
        f"  refused         {figures.refused:>10,}  (quota)",
        f"  failed          {figures.failed:>10,}",
        f"spend (ledger)    {_money(figures.spend):>10}  over {figures.days} day(s) = {_money(figures.spend_month)} a month",
    ]
    for name, total in sorted(figures.spend_by_provider.items()):
        lines.append(f"  provider {name:<9}{_money(_per_month(figures, total)):>10} a month")
    for plan, total in sorted(figures.spend_by_plan.items()):
        requests = figures.requests_by_plan.get(plan, 0)
        lines.append(f"  plan {plan:<13}{_money(_per_month(figures, total)):>10} a month, {requests:,} requests")
    agree = "yes" if abs(figures.spend - figures.billed_by_providers) < Decimal("0.00001") * max(1, figures.provider_runs) else "NO"
    lines += [f"ledger = what the stand-ins billed: {agree} ({_money(figures.billed_by_providers)})", ""]
    return lines + _comparison(figures)


def _comparison(figures: Figures) -> list[str]:
    low, high = SEED_COST_PER_USER
    ai_low, ai_high = (value / SEED_USERS for value in SEED_AI_MONTHLY_USD)
    fixed = SEED_FIXED_MONTHLY_USD / SEED_USERS  # its fixed costs per user at its 100,000 users
    measured = float(figures.cost_per_user_month)
    return [
        f"{'':<28}{'simulated':>12}  seed 001",
        f"{'cost per user per month':<28}{measured:>12.6f}  ${low}-{high} (§8.3), of which AI generation"
        f" ${ai_low:.4f}-{ai_high:.4f} (§4.2)",
        f"{'  + seed fixed costs':<28}{measured + fixed:>12.6f}  (its library and storage, ${SEED_FIXED_MONTHLY_USD:.0f} a month:"
        " not provider calls)",
        f"{'reuse share':<28}{figures.reuse_share:>12.4f}  ~{SEED_REUSE_SHARE} (§5.1, cache)",
    ]
