"""The API quick start as a newcomer meets it: `make run`'s steps on the embedded default (migrate,
load_demo, `manage.py serve`, no service variables), a sign-up and a key made on the account page in
Chromium on a phone, then the documented example, the same text in the README, the API guide and the
/api/ page, run unmodified in a fresh Python. Its files stay private; the staff account `make run`
prints signs in to the admin; the pages involved fit 1280 and 390 px wide (screenshots kept)."""

import html
import io
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.support.processes import PROJECT_DIR, PYTHON, embedded_env, free_port, running
from tests.support.workers import wait_for

README = PROJECT_DIR / "README.md"
GUIDE = PROJECT_DIR / "avatarsite" / "core" / "api_docs.md"
PASSWORD = "a-long-password-1"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
STAFF_LINE = re.compile(r"Staff account for /admin/: username '(\w+)', password '([^']+)'")


def _python_block(text: str, *, after: str) -> str:
    """The first ```python block after the heading `after`."""
    return re.search(r"```python\n(.*?)```", text.split(after, 1)[1], re.S).group(1)


class Site:
    def __init__(self, url: str, media: Path, demo_output: str, env: dict[str, str]) -> None:
        self.url, self.media, self.demo_output, self.env = url, media, demo_output, env


@pytest.fixture(scope="module")
def site(tmp_path_factory, artifacts_dir):
    """What `make run` does, on a SQLite file and media folder of the test's own."""
    root = tmp_path_factory.mktemp("make-run")
    env = embedded_env(root / "media", DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}", PYTHONUNBUFFERED="1")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True, timeout=180)
    demo = subprocess.run(
        [PYTHON, "manage.py", "load_demo", "--avatars", "8"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    port = free_port()
    with running([PYTHON, "manage.py", "serve", "--port", str(port)], env=env, port=port, log=artifacts_dir / "quick-start-serve.log"):
        yield Site(f"http://127.0.0.1:{port}", root / "media", demo.stdout, env)


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _sign_up_and_make_a_key(browser, site: Site, artifacts_dir: Path) -> tuple[str, dict]:
    """A person on a phone: signs up, opens the account page, names and creates a key, copies it."""
    context = browser.new_context(viewport=PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{site.url}/accounts/signup/")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=email]", "newcomer@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    page.goto(f"{site.url}/accounts/")
    page.fill("#api-key-name", "my laptop")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url(f"{site.url}/accounts/#new-key")
    shown = page.locator("[data-new-key-value]").inner_text().strip()
    page.get_by_role("button", name="Copy key").click()
    page.get_by_role("button", name="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    seen = {"fits": _fits(page), "errors": errors, "copied": copied}
    page.screenshot(path=str(artifacts_dir / "quick-start-new-key-phone.png"), full_page=True)
    page.reload()
    seen["after_reload"] = page.locator("[data-new-key]").count()
    seen["keys_listed"] = page.locator("[data-api-key]").count()
    seen["api_page_code"] = html.unescape(
        re.search(r"<code data-quick-start-code>(.*?)</code>", requests.get(f"{site.url}/api/", timeout=10).text, re.S).group(1)
    )
    seen["storage_state"] = context.storage_state()
    context.close()
    return shown, seen


@pytest.mark.browser
def test_the_documented_example_runs_as_written_with_a_key_made_on_the_account_page(site, browser, artifacts_dir, tmp_path):
    readme_example = _python_block(README.read_text(), after="## API: try it in a minute")
    guide_example = _python_block(GUIDE.read_text(), after="## Generating an avatar, end to end")

    raw_key, seen = _sign_up_and_make_a_key(browser, site, artifacts_dir)

    # The example, as written, in a fresh Python with only the two variables the quick start names.
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    client_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AVATARSITE_API": f"{site.url}/api/v1",
        "AVATARSITE_API_KEY": raw_key,
    }
    run = subprocess.run([PYTHON, "-c", guide_example], cwd=client_dir, env=client_env, capture_output=True, text=True, timeout=240)

    # Every page the newcomer met, with a key and a job present, at both sizes.
    fits, images_loaded = {}, {}
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context = browser.new_context(viewport=viewport, storage_state=seen["storage_state"])
        page = context.new_page()
        for label, path in (("account", "/accounts/"), ("history", "/generate/history/"), ("pricing", "/pricing/"), ("api", "/api/")):
            page.goto(site.url + path)
            page.wait_for_load_state("networkidle")
            fits[(label, name)] = _fits(page)
            if label == "history":
                images_loaded[name] = page.evaluate("[...document.querySelectorAll('img.thumb')].map(i => i.naturalWidth > 0)")
            page.screenshot(path=str(artifacts_dir / f"quick-start-{label}-{name}.png"), full_page=True)
        context.close()

    assert readme_example == guide_example == seen["api_page_code"]  # one text, wherever it is shown
    assert re.fullmatch(r"avk_[a-z0-9]{8}_[A-Za-z0-9_-]{40}", raw_key)
    assert seen["copied"] == raw_key
    assert (seen["after_reload"], seen["keys_listed"]) == (0, 1)  # shown once; the reload made no second key
    assert seen["fits"]
    assert seen["errors"] == []
    assert run.returncode == 0, run.stderr[-3000:]
    assert "saved avatar.jpg, 1024 px" in run.stdout
    saved = Image.open(io.BytesIO((client_dir / "avatar.jpg").read_bytes()))
    assert (saved.format, saved.size) == ("JPEG", (1024, 1024))
    assert all(fits.values()), fits
    assert images_loaded == {"desktop": [True], "phone": [True]}  # thumbnails through the owner-checked route


def _issued_key(site: Site, username: str) -> dict[str, str]:
    issued = subprocess.run(
        [PYTHON, "manage.py", "issue_api_key", username], cwd=PROJECT_DIR, env=site.env, capture_output=True, text=True, timeout=60
    )
    assert issued.returncode == 0, issued.stderr[-2000:]
    return {"Authorization": f"Bearer {issued.stdout.strip()}"}


def test_generated_files_go_to_their_owner_only_and_public_ones_stay_public(site):
    demo_key, other_key = _issued_key(site, "demo"), _issued_key(site, "admin")
    request = {"prompt": "A man with a blue hat", "style": "flat"}
    job = requests.post(f"{site.url}/api/v1/generations", json=request, headers=demo_key, timeout=30)
    assert job.status_code == 202, job.text

    def finished() -> dict | None:
        body = requests.get(job.json()["url"], headers=demo_key, timeout=10).json()
        return body if body["status"] not in ("queued", "running") else None

    body = wait_for(finished, timeout=120, interval=1.0, what="the job to finish")
    assert body["status"] == "succeeded", body
    link = body["images"][0]["variants"][0]["url"]
    path = link.split("?", 1)[0]
    private_files = [p.relative_to(site.media) for p in (site.media / "private").rglob("*.jpg")]
    public_files = [p.relative_to(site.media) for p in (site.media / "public").rglob("*.webp")]
    unauthenticated = requests.get(f"{site.url}/api/v1/generations", timeout=10)

    assert link.startswith(f"{site.url}/generate/jobs/{body['id']}/images/0/")
    assert requests.get(link, timeout=10).content.startswith(b"\xff\xd8")  # the link alone, while it lasts
    assert requests.get(path, headers=demo_key, timeout=10).status_code == 200  # or the owner's key
    assert requests.get(path, timeout=10).status_code == 401
    assert requests.get(path, headers=other_key, timeout=10).status_code == 404  # another account's key
    stranger = requests.post(
        f"{site.url}/api/v1/generations", json={"prompt": "x"}, headers={"Authorization": "Bearer avk_zzzzzzzz_" + "A" * 40}, timeout=10
    )
    assert stranger.status_code == 401
    assert private_files
    assert all(requests.get(f"{site.url}/media/{name}", timeout=10).status_code == 404 for name in private_files)
    assert requests.get(f"{site.url}/media/{public_files[0]}", timeout=10).status_code == 200  # the gallery stays public
    assert unauthenticated.status_code == 401
    assert all(name in unauthenticated.headers for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"))


def test_make_run_prints_a_staff_account_that_signs_in_to_the_admin(site):
    assert "username 'demo', password 'avatars-demo-2026'" in site.demo_output
    username, password = STAFF_LINE.search(site.demo_output).groups()
    session = requests.Session()
    # The admin signs in through the site's own sign-in page (allauth's, with its rate limits).
    login_page = session.get(f"{site.url}/admin/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)

    signed_in = session.post(
        login_page.url,
        data={"csrfmiddlewaretoken": token, "login": username, "password": password, "next": "/admin/"},
        headers={"Referer": login_page.url},
        timeout=10,
    )

    assert login_page.url.startswith(f"{site.url}/accounts/login/")
    assert signed_in.status_code == 200
    assert signed_in.url == f"{site.url}/admin/"
    assert "Site administration" in signed_in.text
