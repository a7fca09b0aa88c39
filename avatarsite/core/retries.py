"""Retrying outbound HTTP calls: exponential backoff with jitter, or the server's Retry-After.

Plain Python (tenacity + requests), shared by the gallery importers and the generation providers.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter


class RetryableResponse(Exception):
    """A 429 or 5xx worth another try; carries the server's Retry-After when it sent one."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after_seconds(response)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds (it may be a number or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def retrying(
    *,
    attempts: int,
    backoff: float,
    max_backoff: float,
    sleep: Callable[[float], None] = time.sleep,
    retry_on: tuple[type[BaseException], ...] = (RetryableResponse, requests.ConnectionError, requests.Timeout),
) -> Retrying:
    """Exponential backoff with jitter, or the server's Retry-After when it is longer (capped)."""
    exponential = wait_exponential_jitter(multiplier=backoff, max=max_backoff, jitter=backoff)

    def wait(state: RetryCallState) -> float:
        computed = exponential(state)
        error = state.outcome.exception() if state.outcome else None
        server_says = getattr(error, "retry_after", None)
        return min(max_backoff, max(computed, server_says or 0.0))

    return Retrying(retry=retry_if_exception_type(retry_on), wait=wait, stop=stop_after_attempt(attempts), sleep=sleep, reraise=True)
