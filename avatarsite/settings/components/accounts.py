"""Accounts: sign-in (allauth), e-mail verification, rate limits, two-factor, social sign-in, password rules, mail."""

from django.core.exceptions import ImproperlyConfigured

from .core import INSTALLED_APPS, SITE_NAME
from .env import env

# --- Accounts ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Sessions are read from the cache (Redis; in-process on the embedded default) and kept in the
# database too, so none is lost when the cache is flushed: a signed-in request no longer waits
# for a database read before its first line of view code (every page, the generate form, the
# websocket's sign-in).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# ModelBackend first: sessions made before allauth name it as their backend and stay valid; allauth's
# backend adds signing in by e-mail address.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "allauth.account.auth_backends.AuthenticationBackend"]
ACCOUNT_ADAPTER = "avatarsite.accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "avatarsite.accounts.forms.LoginForm", "signup": "avatarsite.accounts.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_REDIRECT_URL = "accounts:welcome"
# A logged-in user who confirms an address lands where the address shows as verified.
ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL = "/accounts/#security"


# "optional" on the embedded default: the confirmation mail goes to the console, and a newcomer trying
# the site is not stopped until they find it there; only two-factor needs a verified address.
# production.py makes it "mandatory".
def email_verification(default: str) -> str:
    """ACCOUNT_EMAIL_VERIFICATION from env: mandatory (no sign-in before confirming), optional, or none."""
    mode = env.str("ACCOUNT_EMAIL_VERIFICATION", default=default)
    if mode not in ("mandatory", "optional", "none"):
        raise ImproperlyConfigured(f"ACCOUNT_EMAIL_VERIFICATION must be mandatory, optional or none, not {mode!r}")
    return mode


ACCOUNT_EMAIL_VERIFICATION = email_verification("optional")
# Confirming in the browser that signed up continues the sign-up (to the welcome page).
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Sessions last SESSION_COOKIE_AGE (two weeks), as before: no "remember me" box.
ACCOUNT_SESSION_REMEMBER = True
# A reset asked for an address with no account sends nothing (the page says the same either way).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# Sign-in is rate limited per client address and per account: failed sign-ins are counted in the cache (Redis
# when REDIS_URL is set, so every process shares the count, and allauth locks each count with an atomic SET
# NX), per client address (as the API throttles see it, DJANGO_NUM_PROXIES) and per username or e-mail: once N
# have failed in the minute from one address, or in five minutes for one account, the next is refused without
# checking the password. A successful sign-in does not count.
LOGIN_FAILURES_PER_MINUTE = env.int("LOGIN_FAILURES_PER_MINUTE", default=5)
ACCOUNT_RATE_LIMITS = {"login_failed": f"{LOGIN_FAILURES_PER_MINUTE}/m/ip,{LOGIN_FAILURES_PER_MINUTE}/5m/key"}
# Two-factor: authenticator apps (TOTP) and recovery codes. Only the current 30-second code is
# accepted (allauth's default): it is remembered as used for 30 s, so it works exactly once.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME
# Social sign-in: none unless configured. A provider is offered once both its client id and secret
# are set (an OAuth app registered with the provider, callback
# <site>/accounts/<provider>/login/callback/). Another allauth provider: one more entry here.
_SOCIAL_CLIENTS = {
    "github": (env("GITHUB_OAUTH_CLIENT_ID", default=""), env("GITHUB_OAUTH_CLIENT_SECRET", default="")),
    "google": (env("GOOGLE_OAUTH_CLIENT_ID", default=""), env("GOOGLE_OAUTH_CLIENT_SECRET", default="")),
}
SOCIALACCOUNT_PROVIDERS = {}
for _provider, (_client_id, _secret) in _SOCIAL_CLIENTS.items():
    if bool(_client_id) != bool(_secret):
        raise ImproperlyConfigured(f"Social sign-in with {_provider} needs both its client id and its secret.")
    if _client_id:
        SOCIALACCOUNT_PROVIDERS[_provider] = {"APPS": [{"client_id": _client_id, "secret": _secret, "key": ""}]}
        INSTALLED_APPS.append(f"allauth.socialaccount.providers.{_provider}")
# An address a provider reports is not taken as proof of owning an account here (no sign-in to an
# existing account by matching e-mail); the user signs in and connects the provider instead.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Mail: printed to the console unless an SMTP URL is given ---------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="avatarsite <noreply@localhost>")
