"""Writes of the billing app."""

from .default_plans import DEFAULT_PLANS
from .models import Plan


def plan_defaults_ensure() -> None:
    """Create the starting plans that are missing (the migration does it; tests that flush the
    database, and operators who deleted one by mistake, call this)."""
    for plan in DEFAULT_PLANS:
        Plan.objects.get_or_create(slug=plan["slug"], defaults=plan)
