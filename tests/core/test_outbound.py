"""Fetching third-party URLs (image CDNs, provider outputs) cannot be turned against us.

A hostile DNS answer is played by replacing `outbound.resolve`; redirects, huge bodies and slow
drips come from a real local HTTP server.
"""

import contextlib
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from avatarsite.core import outbound
from avatarsite.core.outbound import FetchPolicy, FetchTimeoutError, HTTPStatusError, UnsafeFetchError, fetch
from gallery.importers.base import PermanentSourceError
from gallery.importers.registry import importer_get
from tests.fakes.server import LoopbackServer

pytestmark = pytest.mark.fast

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@dataclass
class HostileServer(LoopbackServer):
    paths: list = field(default_factory=list)
    hosts: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._serve()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.paths.append(self.path)
                server.hosts.append(self.headers.get("Host"))
                # The client may give up first, which is what these tests want.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer()

            def _answer(self) -> None:
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/huge-declared":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(50 * 1024 * 1024))
                    self.end_headers()
                    self.wfile.write(PNG)
                elif self.path == "/huge-undeclared":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for _ in range(64):
                        self.wfile.write(b"\0" * 65536)
                elif self.path == "/drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                        time.sleep(0.1)
                elif self.path == "/page":
                    body = b"<html></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(PNG)))
                    self.end_headers()
                    self.wfile.write(PNG)

        return Handler


@pytest.fixture
def server():
    fake = HostileServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def dns(monkeypatch):
    """Answers for names under .test; anything else is a test bug."""
    answers: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return answers


def strict(**overrides) -> FetchPolicy:
    return FetchPolicy(allowed_hosts=frozenset({"images.example.test"}), content_types=("image/png",), **overrides)


def loopback(**overrides) -> FetchPolicy:
    """The policy tests use against local fakes: loopback and plain http allowed, the rest unchanged."""
    return strict(allow_loopback=True, **overrides)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://evil.example.test/a.png", "allowlist"),
        ("https://images.example.test.evil.test/a.png", "allowlist"),
        ("http://images.example.test/a.png", "plain http"),
        ("https://images.example.test:8443/a.png", "port 8443"),
        ("ftp://images.example.test/a.png", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("https://user:pw@images.example.test/a.png", "credentials"),
        ("https://images.example.test:99999999/a.png", "malformed"),
    ],
)
def test_urls_outside_the_policy_are_refused_before_any_lookup(dns, url, reason):
    with pytest.raises(UnsafeFetchError, match=reason):
        fetch(url, strict())
    assert dns == {}  # nothing was resolved, let alone contacted


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["169.254.169.254"], "link-local"),
        (["10.0.0.5"], "private"),
        (["192.168.1.1"], "private"),
        (["127.0.0.1"], "loopback"),
        (["::1"], "loopback"),
        (["::ffff:169.254.169.254"], "link-local"),
        (["fd00::1"], "private"),
        (["0.0.0.0"], "private or reserved"),  # noqa: S104 (an answer, not a bind)
        (["93.184.216.34", "10.0.0.5"], "private"),  # one bad answer is enough
    ],
)
def test_dns_answers_in_private_loopback_or_link_local_ranges_are_refused(dns, addresses, reason):
    dns["images.example.test"] = addresses
    with pytest.raises(UnsafeFetchError, match=reason):
        fetch("https://images.example.test/a.png", strict(connect_timeout=1.0))


def test_the_connection_goes_to_the_checked_address_and_tls_name_stays_the_host(dns, server):
    dns["images.example.test"] = ["127.0.0.1"]
    port = server.url.rsplit(":", 1)[1]

    body = fetch(f"http://images.example.test:{port}/a.png", loopback())

    assert body.content == PNG
    assert body.content_type == "image/png"
    assert server.hosts == [f"images.example.test:{port}"]


def test_loopback_stays_refused_for_private_ranges_even_in_test_mode(dns):
    dns["images.example.test"] = ["169.254.169.254"]
    with pytest.raises(UnsafeFetchError, match="link-local"):
        fetch("http://images.example.test/a.png", loopback())


def test_redirects_are_refused_not_followed(dns, server):
    dns["images.example.test"] = ["127.0.0.1"]
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(UnsafeFetchError, match="redirect"):
        fetch(f"http://images.example.test:{port}/redirect", loopback())
    assert server.paths == ["/redirect"]


@pytest.mark.parametrize("path", ["/huge-declared", "/huge-undeclared"])
def test_bodies_over_the_byte_cap_are_refused(dns, server, path):
    dns["images.example.test"] = ["127.0.0.1"]
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(UnsafeFetchError, match="byte limit"):
        fetch(f"http://images.example.test:{port}{path}", loopback(max_bytes=1024 * 1024))


def test_a_slow_drip_is_cut_off_at_the_total_deadline(dns, server):
    """Every byte arrives well within the read timeout, so only the total deadline can stop it."""
    dns["images.example.test"] = ["127.0.0.1"]
    port = server.url.rsplit(":", 1)[1]
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match=r"longer than 0\.5 s"):
        fetch(f"http://images.example.test:{port}/drip", loopback(read_timeout=2.0, total_timeout=0.5))
    assert time.monotonic() - started < 2.5  # the drip would take 10 s


def test_a_wrong_content_type_and_an_error_status_are_reported(dns, server):
    dns["images.example.test"] = ["127.0.0.1"]
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(UnsafeFetchError, match="text/html"):
        fetch(f"http://images.example.test:{port}/page", loopback())
    server_404 = f"{server.url}/missing"
    with pytest.raises(UnsafeFetchError, match="allowlist"):
        fetch(server_404, loopback())  # 127.0.0.1 itself is not on the allowlist


def test_an_http_error_status_carries_whether_to_retry():
    assert HTTPStatusError(503).retryable
    assert HTTPStatusError(429).retryable
    assert not HTTPStatusError(404).retryable


def test_importers_only_download_from_their_image_hosts(dns):
    """The production Pexels importer: images.pexels.com (and the API host) over https, nothing else."""
    pexels = importer_get("pexels", api_url="https://api.pexels.com", api_key="k", allow_loopback=False, image_hosts=None)
    assert pexels.download_policy.allowed_hosts == frozenset({"images.pexels.com", "api.pexels.com"})
    dns["images.pexels.com"] = ["169.254.169.254"]
    for url, reason in [
        ("https://images.pexels.com/photos/1/a.jpeg", "link-local"),
        ("https://169.254.169.254/latest/meta-data/", "allowlist"),
        ("https://images.unsplash.com/a.jpeg", "allowlist"),
        ("http://images.pexels.com/photos/1/a.jpeg", "plain http"),
    ]:
        with pytest.raises(PermanentSourceError, match=reason):
            pexels.download(url)
