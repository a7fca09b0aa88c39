"""Faults of our own infrastructure (the database, Redis, the object store), told apart from bugs
and from a provider's errors: such a fault ends the attempt at hand, which is tried again later
(a task by Celery's own retry), instead of being absorbed or leaving a job half done."""

import botocore.exceptions
import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError

# Connection refused, reset or timed out; a pool that could not hand out a connection (psycopg's
# PoolTimeout is an OperationalError, which Django wraps as its own). By service, for those that say
# which one is down (avatarsite/core/outage.py); other database errors (IntegrityError,
# ProgrammingError, DataError) are bugs or bad data, not outages.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)
BROKER_ERRORS: tuple[type[BaseException], ...] = (kombu.exceptions.OperationalError,)
STORAGE_ERRORS: tuple[type[BaseException], ...] = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, *REDIS_ERRORS, *BROKER_ERRORS, *STORAGE_ERRORS)


def is_infrastructure_error(exc: BaseException) -> bool:
    """Is `exc` (or what it was raised from) an outage of a service of ours, worth another try?"""
    seen = 0
    while exc is not None and seen < 5:  # `raise ... from` chains, not errors met while handling another
        if isinstance(exc, INFRASTRUCTURE_ERRORS):
            return True
        if isinstance(exc, botocore.exceptions.ClientError):  # the store answered, with a 5xx: busy or down
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return status >= 500
        exc, seen = exc.__cause__, seen + 1
    return False
