"""Account settings by environment: optional e-mail verification on the embedded default (console
mail), mandatory in production, and production's deploy check still clean with allauth installed."""

import json
import os
import subprocess

from tests.core.test_settings import PRODUCTION_ENV
from tests.support.processes import PROJECT_DIR, PYTHON, embedded_env

PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "verification": settings.ACCOUNT_EMAIL_VERIFICATION,
    "email_backend": settings.EMAIL_BACKEND,
    "protocol": getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http"),
    "login_failed": settings.ACCOUNT_RATE_LIMITS["login_failed"],
    "cache": settings.CACHES["default"]["BACKEND"],
}))
"""


def _seen_with(env: dict[str, str]) -> dict:
    result = subprocess.run([PYTHON, "-c", PROBE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_embedded_default_verifies_email_optionally_with_mail_on_the_console(tmp_path):
    seen = _seen_with(embedded_env(tmp_path / "media"))

    assert seen["verification"] == "optional"
    assert seen["email_backend"] == "django.core.mail.backends.console.EmailBackend"
    assert seen["login_failed"] == "5/m/ip,5/5m/key"


def test_production_makes_email_verification_mandatory_and_links_https(services):
    seen = _seen_with({**os.environ, **PRODUCTION_ENV})

    assert seen["verification"] == "mandatory"
    assert seen["protocol"] == "https"
    assert seen["cache"] == "avatarsite.runtime.redis_cache.ReusingRedisCache"  # login counts shared by every process


def test_email_verification_accepts_only_allauths_modes(tmp_path):
    env = embedded_env(tmp_path / "media", ACCOUNT_EMAIL_VERIFICATION="sometimes")

    result = subprocess.run([PYTHON, "-c", PROBE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "ACCOUNT_EMAIL_VERIFICATION must be mandatory, optional or none" in result.stderr
