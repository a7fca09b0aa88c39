"""API keys: created (shown once), revoked, and checked on each API request."""

import hashlib
import hmac
import logging
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..entitlements import Entitlements, entitlements
from ..models import ApiKey
from ..selectors import plans_with_api_access
from .errors import BillingError

logger = logging.getLogger(__name__)

# A key is "avk_" + 8 lowercase letters or digits (the stored, visible prefix), "_", then 40 URL-safe
# characters (30 random bytes, which may themselves hold "_" or "-"): the secret, never stored.
API_KEY_PREFIX = "avk_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_API_KEY_RE = re.compile(r"(avk_[a-z0-9]{8})_[A-Za-z0-9_-]{40}")
# A key's last use is written at most this often, not on every request.
API_KEY_USE_RECORD_EVERY = timedelta(minutes=1)


class ApiKeyError(BillingError):
    """An API key request that cannot be done; the message is for the user."""

    code = "invalid"


class ApiAccessUnavailableError(ApiKeyError):
    """The user's plan does not include the API (any more)."""

    code = "api_access_unavailable"
    http_status = 403


class ApiKeyLimitError(ApiKeyError):
    """The user already has as many active keys as the plan allows."""

    code = "api_key_limit"
    http_status = 409


class ApiKeyNotFoundError(ApiKeyError):
    """No such key among the user's own (someone else's key is not found either)."""

    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class ApiCredential:
    """What a valid key grants a request (DRF's `request.auth`): the key, its owner's plan now, and for
    the throttle (`avatarsite.core.api.RateCredential`) its rate and the bucket it is counted in: the
    account, so a second key never doubles the rate."""

    key: ApiKey
    plan: Entitlements

    @property
    def rate_per_minute(self) -> int:
        return self.plan.api_rate_per_minute

    @property
    def throttle_ident(self) -> str:
        return f"account-{self.key.user_id}"


def _api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_prefix_of(raw_key: str) -> str | None:
    """The prefix of a well-formed key; None for anything else (checked before any query)."""
    match = _API_KEY_RE.fullmatch(raw_key)
    return match.group(1) if match else None


def _api_access_refused(plan: Entitlements) -> ApiAccessUnavailableError:
    names = " or ".join(p.name for p in plans_with_api_access())
    where = f"it comes with the {names} plan" if names else "no plan includes it at the moment"
    return ApiAccessUnavailableError(f"Your {plan.plan_name} plan does not include the API: {where}.")


@transaction.atomic
def api_key_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiKey, str]:
    """A new key for `user` and the full key, which exists only in this return value: show it once."""
    name = name.strip()
    if not name:
        raise ApiKeyError("Give the key a name, e.g. where it will be used.", field="name")
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise ApiKeyError("Key names are 60 characters at most.", field="name")
    # The user's row is locked, so two concurrent creations cannot both take the last free place.
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
    plan = entitlements(user_id=user.pk)
    if not plan.api_access:
        raise _api_access_refused(plan)
    if ApiKey.objects.filter(user_id=user.pk, revoked_at__isnull=True).count() >= plan.api_keys_max:
        raise ApiKeyLimitError(f"You already have {plan.api_keys_max} active API keys, the most your plan allows: revoke one first.")
    for _ in range(5):
        prefix = API_KEY_PREFIX + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
        raw_key = f"{prefix}_{secrets.token_urlsafe(30)}"
        try:
            with transaction.atomic():  # a savepoint: a clash of prefixes (1 in 36^8) is retried
                key = ApiKey.objects.create(user_id=user.pk, name=name, prefix=prefix, key_hash=_api_key_hash(raw_key))
        except IntegrityError:
            continue
        logger.info("API key %s created for user %s", prefix, user.pk)  # the prefix only: never the key
        return key, raw_key
    raise ApiKeyError("The key could not be created; please try again.")


@transaction.atomic
def api_key_revoke(*, user: AbstractBaseUser, key_id: int) -> ApiKey:
    """Revoke one of `user`'s keys (at once: its next request gets 401). Revoking twice changes nothing."""
    key = ApiKey.objects.select_for_update().filter(pk=key_id, user_id=user.pk).first()
    if key is None:
        raise ApiKeyNotFoundError("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        logger.info("API key %s of user %s revoked", key.prefix, user.pk)
    return key


def api_key_authenticate(*, raw_key: str, now: datetime | None = None) -> ApiCredential | None:
    """The credential of a valid key; None for a malformed, unknown or revoked key or an inactive owner.

    Raises ApiAccessUnavailableError for a valid key whose owner's plan (no longer) includes the API.
    The key's last use is recorded at most once a minute, so a busy key does not write on every request.
    """
    prefix = api_key_prefix_of(raw_key)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    # Compared in constant time: how long the answer takes says nothing about how much of a guess matched.
    if key is None or not hmac.compare_digest(key.key_hash, _api_key_hash(raw_key)):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    now = now or timezone.now()
    plan = entitlements(user_id=key.user_id, now=now)
    if not plan.api_access:
        raise _api_access_refused(plan)
    stale = now - API_KEY_USE_RECORD_EVERY
    if key.last_used_at is None or key.last_used_at <= stale:
        # Conditional, so the concurrent requests of one minute write it once between them.
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return ApiCredential(key=key, plan=plan)
