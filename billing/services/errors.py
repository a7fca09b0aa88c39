"""The errors of billing's services: a request that cannot be done, or Stripe out of reach."""

from avatarsite.core.errors import ApplicationError


class BillingError(ApplicationError):
    """A billing request that cannot be done; the message is for the user."""

    code = "billing_refused"


class BillingUnavailableError(BillingError):
    """Stripe is not configured here or cannot be reached: nothing was done, try again later."""

    code = "billing_unavailable"
    http_status = 503
