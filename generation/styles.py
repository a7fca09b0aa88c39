"""The styles a user may ask for (the AI photo style and the local generator's instant ones), their
names and one-line descriptions, and whether this site can make each for a plan, and if not, why."""

from dataclasses import dataclass

from billing.entitlements import Entitlements

from .providers import local as local_generator
from .providers.registry import entry_get, provider_get, provider_names

AI_STYLE = "photo"
LOCAL_STYLES: tuple[str, ...] = tuple(local_generator.STYLES)
STYLES: tuple[str, ...] = (AI_STYLE, *LOCAL_STYLES)
LOCAL_PROVIDER = "local"
LOCAL_CHAIN = (f"local:{local_generator.MODEL}",)
PROVIDER_NAMES = {"fal": "fal.ai", "replicate": "Replicate", "local": "our own generator"}

AI_LABEL = "AI photo"
AI_DESCRIPTION = "A photographic portrait made by an AI model (FLUX). Takes a few seconds and one generation per image."
NO_AI_SERVICE = "AI photos need an AI service; this site has none set up."


@dataclass(frozen=True)
class StyleChoice:
    """One style as the generate page offers it."""

    value: str
    label: str
    description: str
    instant: bool  # drawn by our own generator: free and at once
    available: bool
    reason: str = ""  # why it is not available


def style_label(style: str) -> str:
    """The style's name for people ("Flat illustration"); an unknown value as it is."""
    if style == AI_STYLE:
        return AI_LABEL
    return local_generator.STYLE_LABELS.get(style, style.replace("_", " ").capitalize())


def style_description(style: str) -> str:
    """One line saying what the style looks like."""
    if style == AI_STYLE:
        return AI_DESCRIPTION
    return local_generator.STYLE_DESCRIPTIONS.get(style, "Drawn by our own generator.")


def ai_providers_set_up() -> list[str]:
    """The AI services this site has keys for."""
    return [name for name in provider_names() if name != LOCAL_PROVIDER and provider_get(name) is not None]


def ai_unavailable_reason(*, plan: Entitlements) -> str:
    """Why this plan's AI photos cannot be made here; empty when they can."""
    chain = [entry.split(":", 1)[0] for entry in plan.provider_chain]
    if any(entry_get(entry) is not None for entry in plan.provider_chain):
        return ""
    if not ai_providers_set_up():
        return NO_AI_SERVICE
    wanted = " or ".join(dict.fromkeys(PROVIDER_NAMES.get(name, name) for name in chain)) or "an AI service"
    return f"AI photos on the {plan.plan_name} plan need {wanted}, which this site has not set up."


def style_unavailable_reason(*, style: str, plan: Entitlements) -> str:
    """Why `style` cannot be made for this plan here; empty when it can (an unknown style is the
    caller's to refuse)."""
    return ai_unavailable_reason(plan=plan) if style == AI_STYLE else ""


def style_choices(*, plan: Entitlements) -> list[StyleChoice]:
    """Every style, in the order the page shows them, with whether it can be made and why not."""
    reason = ai_unavailable_reason(plan=plan)
    choices = [StyleChoice(AI_STYLE, AI_LABEL, AI_DESCRIPTION, instant=False, available=not reason, reason=reason)]
    choices += [StyleChoice(style, style_label(style), style_description(style), instant=True, available=True) for style in LOCAL_STYLES]
    return choices


def default_style(*, plan: Entitlements) -> str:
    """The style a request that names none gets: AI photos where this site can make them for the
    plan, else the first instant style (never one that would be refused)."""
    return AI_STYLE if not ai_unavailable_reason(plan=plan) else LOCAL_STYLES[0]
