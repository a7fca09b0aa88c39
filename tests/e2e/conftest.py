"""One headless Chromium and one site server for the whole of tests/e2e, started on first use.

Starting uvicorn (Django, the URL map, the templates) and Chromium takes seconds each; a test needs
neither fresh, only a fresh browser *context* (no cookies, storage or cache from another test) and
data of its own (every browser test is transactional, so the server sees what the test wrote, and
the rows are flushed after it; the cache and the broker are emptied before each test by
tests/conftest.py). A test that needs the server configured otherwise (e.g. social sign-in set up)
asks `site_servers` for that configuration: one server per distinct environment, kept for the rest
of the run.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.processes import ALLOW_ORM_WITH_A_LOOP, free_port, project_env, running, subprocess_database_url, uvicorn_args

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


class SiteServers:
    """ASGI servers of the project on the test database, one per environment asked for."""

    def __init__(self, stack: ExitStack, logs: Path) -> None:
        self._stack, self._logs = stack, logs
        self._urls: dict[tuple[tuple[str, str], ...], str] = {}

    def url(self, **env: str) -> str:
        """The base URL of a server whose environment has `env` added; started on first use."""
        key = tuple(sorted(env.items()))
        if key not in self._urls:
            self._urls[key] = self._stack.enter_context(self.running(f"e2e-site-{len(self._urls)}", **env))
        return self._urls[key]

    @contextmanager
    def running(self, log_name: str, **env: str) -> Iterator[str]:
        """A server of its own for the duration of a `with` (for an environment no other test shares)."""
        port = free_port()
        environment = project_env(DATABASE_URL=subprocess_database_url(), **env)
        with running(uvicorn_args(port), env=environment, port=port, log=self._logs / f"{log_name}.log"):
            yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="package")
def site_servers(django_db_setup, artifacts_dir) -> Iterator[SiteServers]:
    # Package scope: the servers stop after the last e2e test, not at the end of the whole run.
    with ExitStack() as stack:
        yield SiteServers(stack, artifacts_dir)


@pytest.fixture
def site(site_servers: SiteServers) -> str:
    """The base URL of the site as configured for the test run (no extra environment)."""
    return site_servers.url()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # While Playwright's sync API is open, its event loop counts as running in this thread, and Django
    # refuses ORM calls from such a thread (SynchronousOnlyOperation) although nothing runs them
    # concurrently here: the tests' own ORM calls are allowed while the browser lives. Only this
    # process: the servers and workers the tests start never get the variable (project_env drops it).
    before = os.environ.get(ALLOW_ORM_WITH_A_LOOP)
    os.environ[ALLOW_ORM_WITH_A_LOOP] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop(ALLOW_ORM_WITH_A_LOOP, None)
        else:
            os.environ[ALLOW_ORM_WITH_A_LOOP] = before


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Makes a page in a fresh browser context (options as for `Browser.new_context`); closed after the test."""
    contexts = []

    def make(**options) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def signed_in_page(new_page: Callable[..., Page], site: str, user, *, viewport: dict) -> Page:
    """A page of `site` in a fresh context, signed in as `user` (the session cookie of a client that
    logged them in: the sign-in form is not what these tests look at)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    page = new_page(viewport=viewport)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": site}])
    return page
