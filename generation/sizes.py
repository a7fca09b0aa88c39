"""What sizes a plan's provider chain delivers: natively, and above a model's largest side by the upscaling step."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from billing.entitlements import Entitlements

from .providers.registry import model_entry, provider_build

# The generator of the instant styles: the whole chain of a plan that names no AI model.
LOCAL_ENTRY = "local"


def max_upscale() -> float:
    """How far the upscaling step may enlarge a model's image (GENERATION_MAX_UPSCALE, at least 1 = none)."""
    return max(1.0, float(settings.GENERATION_MAX_UPSCALE))


def within_upscale(*, native: int, size: int) -> bool:
    """Whether an image of `native` px may be made into `size` px: it is at least as large, or
    upscaling it by at most `max_upscale()` gets there."""
    return size <= native or size <= math.floor(native * max_upscale())


def entry_images_per_call(entry: str) -> int | None:
    """How many images one request to the model of a chain entry can make, as the catalogue says
    ("images_per_call"); None when it does not say (the adapter checks each request itself)."""
    name, _, model = entry.partition(":")
    options = model_entry(provider_build(name), model) or {}
    value = options.get("images_per_call")
    return int(value) if value else None


def entry_max_side(entry: str) -> int:
    """The largest side the model of a chain entry ("provider:model") makes; 0 when the settings
    have no such provider. Read from the adapter, whether or not it has its key here."""
    if not isinstance(entry, str) or not entry:
        return 0
    name, _, model = entry.partition(":")
    provider = provider_build(name)
    return provider.max_side(model) if provider is not None else 0


@dataclass(frozen=True)
class PlanSizes:
    """How a plan's chain gets to the plan's sizes."""

    # What the plan says: the largest side a request may ask for.
    max_size: int
    # The largest side any model of the chain makes itself, and the smallest such side: above the
    # latter, a request answered by that model is upscaled (its model is named with the image).
    native_max: int
    native_min: int
    # The upscaling step's largest factor (GENERATION_MAX_UPSCALE).
    max_upscale: float
    # The chain's entries, as the problem names them.
    chain: tuple[str, ...] = ()
    # What the plan says: images per request; and the most one request to a model of the chain
    # makes (None: no model of the chain says, so the plan's number stands).
    max_images: int = 1
    chain_images: int | None = None

    @property
    def offered_images(self) -> int:
        """The most images per request to offer: the plan's, unless no model of its chain makes that many."""
        return self.max_images if self.chain_images is None else max(1, min(self.max_images, self.chain_images))

    @property
    def images_problem(self) -> str:
        """Why the plan's images per request cannot be delivered ("" when they can): for the plan's editor."""
        if self.offered_images >= self.max_images:
            return ""
        return (
            f"No model of the provider chain makes more than {self.chain_images} image(s) per request "
            f'(the catalogue\'s "images per call"): lower this to {self.chain_images} or put such a model in the chain.'
        )

    @property
    def max_with_upscaling(self) -> int:
        """The largest side the chain reaches: its largest model side, upscaled as far as allowed."""
        return math.floor(self.native_max * self.max_upscale)

    @property
    def deliverable(self) -> bool:
        return self.max_size <= self.max_with_upscaling

    @property
    def offered_max(self) -> int:
        """The largest side to offer: the plan's, unless its chain cannot get there."""
        return min(self.max_size, self.max_with_upscaling)

    def upscaled_from(self, size: int) -> int | None:
        """The side a request of `size` may be upscaled from (the chain's smallest model side), or
        None when every model of the chain makes it itself."""
        return self.native_min if 0 < self.native_min < size else None

    @property
    def summary(self) -> str:
        """The plan's sizes in words, for the pricing page: honest about the upscaling step."""
        upscaled = self.upscaled_from(self.offered_max)
        if upscaled is None:
            return f"Up to {self.offered_max} px"
        return f"Up to {self.offered_max} px (above {upscaled} px upscaled from the model's {upscaled} px)"

    @property
    def problem(self) -> str:
        """Why the plan's max size cannot be delivered ("" when it can): for the plan's editor."""
        if self.deliverable:
            return ""
        if self.native_max == 0:
            return f"No model of the provider chain {list(self.chain)} is set up in GENERATION_PROVIDERS, so no size can be delivered."
        return (
            f"The provider chain makes at most {self.native_max} px, and upscaling (at most {self.max_upscale:g}x, "
            f"GENERATION_MAX_UPSCALE) reaches {self.max_with_upscaling} px: lower the max size to {self.max_with_upscaling} "
            "or put a model that makes larger images in the chain."
        )


def chain_sizes(*, provider_chain: Sequence[str], max_size: int, max_images: int = 1) -> PlanSizes:
    """What a chain ("provider:model" entries, tried in order) delivers for a plan of `max_size`
    px. An empty chain is the local generator's (instant styles only). settings.BILLING_PLAN_SIZES
    names this function, for the plan checks and the pricing page."""
    chain = tuple(provider_chain) or (LOCAL_ENTRY,)
    sides = [side for side in (entry_max_side(entry) for entry in chain) if side > 0]
    counts = [entry_images_per_call(entry) for entry in chain if entry != LOCAL_ENTRY]
    return PlanSizes(
        max_images=max_images,
        chain_images=None if not counts or None in counts else max(counts),
        max_size=max_size,
        native_max=max(sides, default=0),
        native_min=min(sides, default=0),
        max_upscale=max_upscale(),
        chain=chain,
    )


def plan_sizes(plan: Entitlements) -> PlanSizes:
    """What the user's plan delivers: for the generate page (the sizes offered) and the pipeline."""
    return chain_sizes(provider_chain=plan.provider_chain, max_size=plan.max_size, max_images=plan.max_images_per_request)
