"""Fetching URLs that someone else chose (image CDNs, provider outputs, webhooks) without SSRF.

Plain Python, no Django: importers and provider adapters use it. A `FetchPolicy` says which hosts,
schemes and ports are allowed, how many bytes and how long. The host name is resolved once, every
address it resolves to is checked (no private, loopback, link-local, multicast or reserved ranges,
so no cloud metadata at 169.254.169.254), and the connection goes to the checked address, so a DNS
answer that changes between check and connect (rebinding) cannot slip through. Redirects are never
followed; a slow body is cut off at a total deadline, not only per read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class UnsafeFetchError(Exception):
    """The URL, its address or its answer breaks the policy. Permanent: retrying will not help."""


class FetchTimeoutError(Exception):
    """The server was too slow (connect, a read, or the whole body past the deadline). Worth a retry."""


class FetchConnectionError(Exception):
    """The server could not be reached. Worth a retry."""


class HTTPStatusError(Exception):
    """The server answered with an error status; 429 and 5xx are worth a retry."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class FetchPolicy:
    # Exact host names, ".example.com" for the domain and its subdomains, or "*" for any host (whose
    # addresses must still be public: a webhook URL the client chose).
    allowed_hosts: frozenset[str]
    max_bytes: int = 20 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    # None accepts any type; otherwise the Content-Type (without parameters) must be one of these.
    content_types: tuple[str, ...] | None = None
    # Only for local fakes in tests and development: loopback addresses, plain http and any port.
    allow_loopback: bool = False
    https_ports: frozenset[int] = field(default_factory=lambda: frozenset({443}))

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if "*" in self.allowed_hosts:
            return True
        for allowed in self.allowed_hosts:
            allowed = allowed.lower()
            if allowed.startswith(".") and (host == allowed[1:] or host.endswith(allowed)):
                return True
            if host == allowed:
                return True
        return False


@dataclass(frozen=True)
class FetchedBody:
    content: bytes
    content_type: str


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (tests replace this to play a hostile DNS server)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def address_refusal(address: str, *, allow_loopback: bool) -> str | None:
    """Why this address must not be contacted, or None when it may be."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return "a private or reserved address"
    return None


def public_addresses(host: str, port: int, *, allow_loopback: bool) -> list[str]:
    """Every address `host` resolves to, once each has passed `address_refusal`. Raises
    FetchConnectionError when it does not resolve, UnsafeFetchError when any address is refused."""
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise FetchConnectionError(f"could not resolve {host}: {exc}") from exc
    for address in addresses:
        refusal = address_refusal(address, allow_loopback=allow_loopback)
        if refusal:
            raise UnsafeFetchError(f"refusing {host}: it resolves to {refusal}")
    if not addresses:
        raise FetchConnectionError(f"{host} resolves to nothing")
    return addresses


def check_url(url: str, policy: FetchPolicy) -> tuple[str, int]:
    """The host and port to contact, or UnsafeFetchError before any connection is made."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeFetchError(f"malformed URL: {exc}") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http"):
        raise UnsafeFetchError(f"refusing the scheme {parts.scheme or 'none'!r}: only https is fetched")
    if parts.scheme == "http" and not policy.allow_loopback:
        raise UnsafeFetchError("refusing plain http: only https is fetched")
    if parts.username or parts.password:
        raise UnsafeFetchError("refusing a URL with credentials in it")
    if not host or not policy.host_allowed(host):
        raise UnsafeFetchError(f"refusing the host {host or 'none'!r}: not on this source's allowlist")
    port = port or (443 if parts.scheme == "https" else 80)
    if not policy.allow_loopback and port not in policy.https_ports:
        raise UnsafeFetchError(f"refusing port {port}: only {', '.join(map(str, sorted(policy.https_ports)))}")
    return host, port


def _guarded_connection(base: type[HTTPConnection], allow_loopback: bool) -> type[HTTPConnection]:
    class GuardedConnection(base):  # type: ignore[valid-type, misc]
        """Resolves, checks every address, then connects to a checked one (TLS still checks the name)."""

        def _new_conn(self) -> socket.socket:
            addresses = public_addresses(self._dns_host, self.port, allow_loopback=allow_loopback)
            name = self._dns_host
            self._dns_host = addresses[0]
            try:
                return super()._new_conn()
            finally:
                self._dns_host = name

    return GuardedConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections only go to addresses that pass `address_refusal`."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._allow_loopback = allow_loopback
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_connection = _guarded_connection(HTTPConnection, self._allow_loopback)
        https_connection = _guarded_connection(HTTPSConnection, self._allow_loopback)
        http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_connection})
        https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_connection})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}


def guarded_session(policy: FetchPolicy, user_agent: str = "avatarsite") -> requests.Session:
    """A session that ignores proxy variables (they would bypass the address check) (fetch never follows redirects)."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = user_agent
    adapter = GuardedAdapter(allow_loopback=policy.allow_loopback)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch(url: str, policy: FetchPolicy, *, session: requests.Session | None = None) -> FetchedBody:
    """GET `url` under `policy`. Raises UnsafeFetchError, FetchTimeoutError or FetchConnectionError;
    an HTTP error status raises `HTTPStatusError` (carrying the status) so callers can choose to retry."""
    check_url(url, policy)
    own_session = session is None
    session = session or guarded_session(policy)
    deadline = time.monotonic() + policy.total_timeout
    try:
        with session.get(url, timeout=(policy.connect_timeout, policy.read_timeout), stream=True, allow_redirects=False) as response:
            if response.is_redirect or 300 <= response.status_code < 400:
                raise UnsafeFetchError(f"refusing to follow a redirect (HTTP {response.status_code})")
            if response.status_code != 200:
                raise HTTPStatusError(response.status_code)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if policy.content_types is not None and content_type not in policy.content_types:
                raise UnsafeFetchError(f"refusing the content type {content_type or 'none'!r}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise UnsafeFetchError(f"the body is {declared} bytes, over the {policy.max_bytes} byte limit")
            body = bytearray()
            # read1 returns whatever one receive brought (read(n) would wait for n bytes), so a
            # server dripping a byte at a time is cut off within read_timeout after the deadline.
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                body.extend(chunk)
                if len(body) > policy.max_bytes:
                    raise UnsafeFetchError(f"the body is over the {policy.max_bytes} byte limit")
                if time.monotonic() > deadline:
                    raise FetchTimeoutError(f"the body took longer than {policy.total_timeout:g} s")
            return FetchedBody(bytes(body), content_type)
    except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
        raise FetchTimeoutError(f"timed out: {type(exc).__name__}") from exc
    except (requests.ConnectionError, urllib3.exceptions.HTTPError) as exc:
        raise FetchConnectionError(f"could not connect: {type(exc).__name__}") from exc
    finally:
        if own_session:
            session.close()
