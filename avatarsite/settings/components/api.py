"""The REST API: DRF, the OpenAPI schema and its docs, CORS, key and rate limits."""

from corsheaders.defaults import default_headers as cors_default_headers

from .env import BASE_DIR, env

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # API keys (Authorization: Bearer <key>); no header stays anonymous, as the public read API is.
    "DEFAULT_AUTHENTICATION_CLASSES": ["billing.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "avatarsite.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# The OpenAPI schema at /api/schema/ and its docs at /api/docs/ (docs text: avatarsite/core/api_docs.md).
SPECTACULAR_SETTINGS = {
    "TITLE": "avatarsite API",
    "DESCRIPTION": (BASE_DIR / "avatarsite" / "core" / "api_docs.md").read_text(),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI from drf-spectacular-sidecar, so the docs need nothing from another site (the
    # validator badge would load an image from validator.swagger.io: off). "Authorize" takes a key
    # and "Try it out" sends real requests from the page. No deep links: Swagger UI puts each one
    # inside the operation's button, a link in a button that screen readers cannot reach (axe-core's
    # nested-interactive rule).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "persistAuthorization": True, "validatorUrl": None, "tryItOutEnabled": False},
    "TAGS": [
        {"name": "avatars", "description": "The premade library: public; with a key, requests count per account at the plan's rate."},
        {"name": "generations", "description": "Custom avatars on demand (key required)."},
        {"name": "usage", "description": "Your plan, quotas and this month's use (key required)."},
    ],
}
# CORS, for the API only: web pages on these origins (scheme + host, e.g. https://app.example.com)
# may call it from the browser. Never with credentials: the API authenticates by key, not cookie.
CORS_ALLOWED_ORIGINS = env.list("API_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Location", "Retry-After", "Idempotent-Replayed", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
# Invalid API keys accepted from one address per minute; then 429 until the minute ends.
API_KEY_FAILURES_PER_MINUTE = env.int("API_KEY_FAILURES_PER_MINUTE", default=20)
# Requests per minute per client IP on the public (keyless) read API.
PUBLIC_API_RATE_PER_MINUTE = env.int("PUBLIC_API_RATE_PER_MINUTE", default=120)
# Set only when a trusted proxy in front sets X-Forwarded-For (e.g. 1 behind one proxy).
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", default=0) or None
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
