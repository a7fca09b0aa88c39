"""The request stage: validate and normalise a request (the prompt blocklist, style, size, seed),
then answer it from a stored result, let it follow an identical one in flight, or take quota and
enqueue it (generation_job_create)."""

import contextlib
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.entitlements import Entitlements, entitlements

from .. import dispatch
from ..budget import budget_request_notice
from ..chains import chain_route
from ..deliveries import webhook_job_ended
from ..errors import GenerationError, PromptRefusedError, QuotaExceededError, StyleUnavailableError
from ..models import GenerationJob
from ..quotas import quota_check_locked, quota_counted, quota_refusal_record
from ..selectors import LANE_LABELS
from ..sizes import plan_sizes
from ..styles import LOCAL_CHAIN, LOCAL_STYLES, STYLES, default_style, style_choices, style_unavailable_reason
from .images import images_copy
from .results import followers_release, same_request

MAX_PROMPT_LENGTH = 500
# Clearly disallowed requests are refused before any spend; providers filter the rest.
_REFUSED_PROMPT = re.compile(
    r"\b(nude|naked|nsfw|porn\w*|sexual|explicit|gore|beheading|child\s+abuse|underage|loli|csam)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class NormalisedRequest:
    prompt: str
    style: str
    size: int
    seed: int
    num_images: int
    chain: tuple[str, ...]

    @property
    def key(self) -> str:
        """Identical requests (same words, style, size, seed, count and models) share this key."""
        payload = [self.prompt.lower(), self.style, self.size, self.seed, self.num_images, list(self.chain)]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _chain_for(*, style: str, plan: Entitlements, size: int, num_images: int) -> tuple[str, ...]:
    """The local generator for its own styles; for AI photos, the plan's chain as its routing
    policy orders it for this request, minus the providers not set up here or unable to make it
    (generation.chains). A style nobody here can make is refused with the reason: the local
    generator never stands in for a model, so a job is always what its style says it is."""
    if style in LOCAL_STYLES:
        return LOCAL_CHAIN
    available = chain_route(chain=plan.provider_chain, policy=plan.routing, size=size, num_images=num_images)
    if not available:
        reason = style_unavailable_reason(style=style, plan=plan) or "No AI service of your plan is set up here."
        available_styles = [choice.value for choice in style_choices(plan=plan) if choice.available]
        raise StyleUnavailableError(f"{reason} Choose an instant style: {', '.join(LOCAL_STYLES)}.", available_styles=available_styles)
    return available


def _default_seed(*, prompt: str, style: str, size: int, num_images: int) -> int:
    """The seed of a request that names none: the same request gets the same seed, so asking again
    is answered from the stored result at no cost; a variation is asked for with another seed."""
    digest = hashlib.sha256(json.dumps([prompt.lower(), style, size, num_images]).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def generation_request_normalise(
    *, prompt: str, style: str | None, size: int | None, seed: int | None, num_images: int, plan: Entitlements
) -> NormalisedRequest:
    """The request as it will be run (`style` None: the plan's default style here), or GenerationError."""
    prompt = " ".join(prompt.split())
    if not prompt:
        raise GenerationError("Describe the avatar you want.", field="prompt")
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise GenerationError(f"Keep the description under {MAX_PROMPT_LENGTH} characters.", field="prompt")
    if _REFUSED_PROMPT.search(prompt):
        raise PromptRefusedError("This description asks for content we do not generate. Nothing was charged.", field="prompt")
    style = style or default_style(plan=plan)
    if style not in STYLES:
        raise GenerationError(f"Unknown style; choose one of {', '.join(STYLES)}.", field="style")
    offer = plan_sizes(plan)
    largest = offer.offered_max  # the plan's, unless its chain cannot get there
    size = size or min(1024, largest)
    if not 256 <= size <= largest:
        raise GenerationError(f"Your plan allows sizes from 256 to {largest} px.", field="size")
    if not 1 <= num_images <= offer.offered_images:
        raise GenerationError(f"Your plan allows up to {offer.offered_images} image(s) per request.", field="num_images")
    seed = _default_seed(prompt=prompt, style=style, size=size, num_images=num_images) if seed is None else seed
    if not 0 <= seed < 2**31:
        raise GenerationError("The seed must be between 0 and 2147483647.", field="seed")
    return NormalisedRequest(prompt, style, size, seed, num_images, _chain_for(style=style, plan=plan, size=size, num_images=num_images))


FOLLOWING_MESSAGE = "Waiting for the same request, made a moment ago, to finish: its result will be yours at no cost."


def generation_job_create(
    *,
    user_id: int,
    prompt: str,
    style: str | None = None,
    size: int | None = None,
    seed: int | None = None,
    num_images: int = 1,
    plan: Entitlements | None = None,
    webhook_url: str = "",
    api_key_id: int | None = None,
) -> GenerationJob:
    """Accept a request: reuse an identical stored result at no cost, follow an identical request
    still in flight (single flight: one provider call for both; this one gets that result at no
    cost), or take quota and enqueue the job on the plan's queue once the transaction commits.
    `style` None: AI photos where this site can make them for the plan, else the first instant style.
    `plan`: the user's entitlements when the caller has just read them (the generate view has),
    else they are read here. Raises GenerationError or QuotaExceededError."""
    plan = plan or entitlements(user_id=user_id)
    request = generation_request_normalise(prompt=prompt, style=style, size=size, seed=seed, num_images=num_images, plan=plan)
    notice = budget_request_notice(user_id=user_id, paid=plan.paid) if request.chain != LOCAL_CHAIN else ""
    if notice:  # the spend budget's hard stop, or the user's daily cap: our own generator draws it, told why
        request = NormalisedRequest(request.prompt, LOCAL_STYLES[0], request.size, request.seed, request.num_images, LOCAL_CHAIN)
    now = timezone.now()
    fields = {
        "user_id": user_id,
        "prompt": request.prompt,
        "style": request.style,
        "size": request.size,
        "seed": request.seed,
        "num_images": request.num_images,
        "request_key": request.key,
        "webhook_url": webhook_url,  # an API request's completion webhook (checked by the caller), signed with its key's secret
        "api_key_id": api_key_id,
        "plan": plan.plan,
        "queue": plan.queue,
        "priority": plan.priority,
        "provider_chain": list(request.chain),
        "message": notice or f"Waiting in the {LANE_LABELS.get(plan.queue, plan.queue)}",
        "notice": notice,
    }
    units = 0 if request.chain == LOCAL_CHAIN else request.num_images
    for attempt in range(2):
        earlier, leader = same_request(key=request.key)
        if earlier is not None:
            with transaction.atomic():
                return _job_reuse(earlier=earlier, fields=fields, now=now)
        try:
            return _job_insert(fields=fields, units=units, plan=plan, leader=leader, now=now)
        except QuotaExceededError:
            # Counted for the operator's dashboard (the check's transaction is rolled back by now; a
            # caller's own transaction that rolls back takes this count with it, and counts itself).
            quota_refusal_record(plan=plan.plan)
            raise
        except IntegrityError:
            # An identical request became the one in flight between the look and the insert.
            if attempt:
                raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def _job_insert(*, fields: dict, units: int, plan: Entitlements, leader: GenerationJob | None, now) -> GenerationJob:
    """Take quota and write the job (a follower of `leader`, or the one in flight for its key).
    The quota check locks the user's row until the job (which holds the units) is written; a plan
    without quota windows takes no lock, so its job is one INSERT, with no transaction around it
    unless the caller has one (then a savepoint, so that a clash on the in-flight key spoils nothing).
    A follower holds its units while it waits; they are given back when it gets its leader's result."""
    counted = quota_counted(plan=plan)
    with transaction.atomic() if counted or connection.in_atomic_block else contextlib.nullcontext():
        quota_check_locked(user_id=fields["user_id"], plan=plan, units=units, now=now)
        extra = {"reused_from": leader, "message": FOLLOWING_MESSAGE} if leader is not None else {"enqueued_at": now}
        job = GenerationJob.objects.create(
            **{**fields, **extra},
            quota_units=units,
            deadline_at=now + timedelta(seconds=settings.GENERATION_QUEUE_TIMEOUT_SECONDS),
        )
        if leader is None:
            dispatch.job_run_enqueue_on_commit(job)
        else:  # the leader may end before this commits, and would not have seen this job then
            transaction.on_commit(functools.partial(followers_release, leader_id=leader.pk), robust=True)
    return job


def _job_reuse(*, earlier: GenerationJob, fields: dict, now, message: str = "") -> GenerationJob:
    job = GenerationJob.objects.create(
        **{**fields, "message": message or "Ready: the same request was made before, so it cost nothing."},
        status=GenerationJob.Status.SUCCEEDED,
        progress=100,
        reused_from=earlier,
        started_at=now,
        finished_at=now,
    )
    images_copy(source=earlier, target=job)
    transaction.on_commit(lambda: webhook_job_ended(job))
    return job
