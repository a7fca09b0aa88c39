"""Stripe's webhook signature, for signing test events: `Stripe-Signature: t=<unix ts>,v1=<hex HMAC-SHA256>`.

The HMAC is keyed with the endpoint secret (`whsec_...`) over `f"{t}.{raw body}"`, exactly what
`stripe.Webhook.construct_event` recomputes (it rejects a `t` more than 300 s old by default).
Stripe may send several `v1=` entries while a secret is being rolled; one is enough here.
"""

import hashlib
import hmac
import time


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for these raw body bytes (now, unless `timestamp` is given)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def signed_headers(payload: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a webhook delivery carrying `payload`."""
    return {"Content-Type": "application/json", "Stripe-Signature": sign(payload, secret, timestamp)}
