"""The generation app's domain errors: requests it refuses, each with its API code, status and user message."""

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from avatarsite.core.errors import ApplicationError

if TYPE_CHECKING:
    from .quotas import QuotaStatus


class GenerationError(ApplicationError):
    """A request we will not run; `code` and the message are shown to the user."""

    code = "invalid"

    def details(self) -> dict[str, Any]:
        return {self.field or "non_field_errors": [self.message]}


class PromptRefusedError(GenerationError):
    # 400, not 422: everything wrong with a request body is a 400; the code tells a refusal from a
    # typo, and details name the field as for any other 400.
    code = "prompt_refused"


class JobNotCancelableError(GenerationError):
    code = "not_cancelable"
    http_status = 409

    def __init__(self, message: str | None = None, *, job_status: str = "") -> None:
        super().__init__(message)
        self.job_status = job_status

    def details(self) -> dict[str, Any]:
        return {"status": self.job_status}


class StyleUnavailableError(GenerationError):
    """A style this site cannot make for the plan (AI photos without an AI service): refused with
    the reason, never drawn by something else under its name. `available_styles`: what the plan can have."""

    code = "style_unavailable"
    field = "style"

    def __init__(self, message: str | None = None, *, field: str | None = None, available_styles: list[str] | None = None) -> None:
        super().__init__(message, field=field)
        self.available_styles = available_styles or []

    def details(self) -> dict[str, Any]:
        return {"style": [self.message], "available_styles": self.available_styles}


class IdempotencyConflictError(ApplicationError):
    """The key was already used with a different request body."""

    code = "idempotency_conflict"
    http_status = 409
    message = "This Idempotency-Key was already used with a different request body."


class QuotaExceededError(ApplicationError):
    """The plan's quota windows refuse the request; `status` is the quota as it stood, `resets_at`
    when the refusing windows have all reset (None: they never will)."""

    code = "quota_exceeded"
    http_status = 429

    def __init__(self, status: "QuotaStatus", units: int) -> None:
        self.status = status
        self.resets_at: datetime | None = status.resets_at(units)
        until = f" until {self.resets_at:%Y-%m-%d %H:%M} UTC" if self.resets_at else ""
        super().__init__(f"Your plan's generation quota is used up{until}.")

    def retry_after(self) -> int:
        """Whole seconds until the quota allows the request again (60 when it never resets by itself);
        counted once, so the body and the Retry-After header agree."""
        if not hasattr(self, "_retry_after"):
            seconds = (self.resets_at - timezone.now()).total_seconds() if self.resets_at else None
            self._retry_after = max(1, math.ceil(seconds)) if seconds is not None else 60
        return self._retry_after

    def details(self) -> dict[str, Any]:
        windows = [
            {"window": w.name, "limit": w.limit, "used": w.used, "left": w.left, "resets_at": w.resets_at.isoformat()}
            for w in self.status.windows
        ]
        resets_at = self.resets_at.isoformat() if self.resets_at else None
        return {"resets_at": resets_at, "retry_after": self.retry_after(), "windows": windows}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after())}


class WebhookUrlError(ApplicationError):
    """A webhook URL we will not deliver to; the message says why."""

    field = "webhook_url"


class TryItUnavailableError(GenerationError):
    """The admin's "try it" on a provider or model that cannot be tried here (not set up, or not in its catalogue)."""
