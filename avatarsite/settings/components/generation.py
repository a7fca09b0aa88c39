"""Generation: provider adapters and their keys, client webhooks, timeouts, retries, queues, the breaker."""

import json

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
# Provider adapters by name (a plan's chain names them as "<provider>:<model>"); an adapter without
# its key counts as not set up. Costs are what the provider bills, for the ledger and spend alerts.
# "max_side" (and fal's "side_step") per model: the square sides it makes, so each is asked for a
# size it can deliver (base.ModelSizes); above max_side the pipeline upscales (GENERATION_MAX_UPSCALE).
GENERATION_PROVIDERS = {
    # "commercial_use" (per model, or for the whole provider) is what the API tells clients about an
    # image's use; a model not marked is reported as not cleared for commercial use.
    "local": {"BACKEND": "generation.providers.local.LocalProvider", "OPTIONS": {"commercial_use": True}},
    "fal": {
        "BACKEND": "generation.providers.fal.FalProvider",
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
                    "cost_per_megapixel": env.float("FAL_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.003),
                    "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                    "commercial_use": True,
                },
                "fal-ai/flux/dev": {
                    "max_side": 1024,
                    "side_step": 16,
                    "cost_per_megapixel": env.float("FAL_FLUX_DEV_COST_PER_MEGAPIXEL", default=0.025),
                    "licence": "FLUX.1 [dev] through fal's commercial licence: the image may be used commercially.",
                    "commercial_use": True,
                },
            },
        },
    },
    "replicate": {
        "BACKEND": "generation.providers.replicate.ReplicateProvider",
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
                    "cost_per_image": env.float("REPLICATE_FLUX_SCHNELL_COST_PER_IMAGE", default=0.003),
                    "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                    "commercial_use": True,
                },
                "black-forest-labs/flux-dev": {
                    "max_side": 1024,
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

# --- Hugging Face Inference (router) and DeepInfra: synchronous text-to-image providers -----------
# Set up only with a key (HF_TOKEN / DEEPINFRA_API_KEY): without one the adapter is not `configured`
# and no plan chain can reach it. Both answer the image in the response (bytes / base64): no output host.
HF_TOKEN = env("HF_TOKEN", default="")
HF_API_URL = env("HF_API_URL", default="https://router.huggingface.co")
DEEPINFRA_API_KEY = env("DEEPINFRA_API_KEY", default="")
DEEPINFRA_API_URL = env("DEEPINFRA_API_URL", default="https://api.deepinfra.com")
GENERATION_PROVIDERS["huggingface"] = {
    "BACKEND": "generation.providers.huggingface.HuggingFaceProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": HF_API_URL,
        "api_key": HF_TOKEN,
        "read_timeout": env.float("HF_READ_TIMEOUT_SECONDS", default=120.0),
        "models": {
            # hf-inference bills GPU time; the seed research quotes $0.00012 per second (UNCONFIRMED):
            # the ledger gets our calls' wall time x this price, an upper bound of what is billed.
            "black-forest-labs/FLUX.1-schnell": {
                "provider": "hf-inference",
                "max_side": 1024,
                "side_step": 16,
                "parameters": {"num_inference_steps": 4},
                "cost_per_second": env.float("HF_COST_PER_SECOND", default=0.00012),
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX.1-dev": {
                "provider": "hf-inference",
                "max_side": 1024,
                "side_step": 16,
                "parameters": {"num_inference_steps": 28},
                "cost_per_second": env.float("HF_COST_PER_SECOND", default=0.00012),
                "licence": "FLUX.1 [dev] Non-Commercial License: not cleared for commercial use.",
                "commercial_use": False,
            },
        },
    },
}
GENERATION_PROVIDERS["deepinfra"] = {
    "BACKEND": "generation.providers.deepinfra.DeepInfraProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": DEEPINFRA_API_URL,
        "api_key": DEEPINFRA_API_KEY,
        "read_timeout": env.float("DEEPINFRA_READ_TIMEOUT_SECONDS", default=120.0),
        "models": {
            # The answer's inference_status.cost is what the ledger records; these prices are the
            # fallback when it is missing ($ x w/1024 x h/1024 per image, as DeepInfra's pages quote).
            "black-forest-labs/FLUX-1-schnell": {
                "max_side": 1024,
                "side_step": 16,
                # UNCONFIRMED price: not in the protocol notes.
                "cost_per_megapixel": env.float("DEEPINFRA_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.0005),
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX-2-dev": {
                "max_side": 1024,
                "side_step": 16,
                # $0.01 x (w/1024) x (h/1024) x (steps/28): 28 steps sent, so $0.01 per megapixel.
                "input": {"num_inference_steps": 28},
                "cost_per_megapixel": env.float("DEEPINFRA_FLUX2_DEV_COST_PER_MEGAPIXEL", default=0.01),
                "licence": "FLUX.2 [dev] through DeepInfra: commercial use of the output UNCONFIRMED, so not cleared.",
                "commercial_use": False,
            },
        },
    },
}
GENERATION_EXPECTED_SECONDS.update({"huggingface": 10, "deepinfra": 5})

# --- OpenAI images and Together (issue 19): synchronous image APIs, each set up only with its key --------
# One call answers with the images (base64); the read timeout bounds that call (gpt-image takes tens of
# seconds). A model's price is what the provider bills, for the ledger: OpenAI's gpt-image by the tokens
# its answer reports (per million), dall-e per image (dall-e-2 by size); Together's FLUX per megapixel.
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_API_URL = env("OPENAI_API_URL", default="https://api.openai.com/v1")
_openai_licence = "OpenAI's terms assign the output to the user: the image may be used commercially."
GENERATION_PROVIDERS["openai"] = {
    "BACKEND": "generation.providers.openai.OpenAIImagesProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": OPENAI_API_URL,
        "api_key": OPENAI_API_KEY,
        "organization": env("OPENAI_ORGANIZATION", default=""),
        "project": env("OPENAI_PROJECT", default=""),
        "read_timeout": env.float("OPENAI_READ_TIMEOUT_SECONDS", default=180.0),
        "models": {
            # gpt-image and dall-e-3 make 1024 px squares only; dall-e-2 256, 512 or 1024.
            "gpt-image-1-mini": {
                "max_side": 1024,
                "cost_per_million_input_tokens": env.float("OPENAI_GPT_IMAGE_1_MINI_COST_PER_MILLION_INPUT_TOKENS", default=2.0),
                "cost_per_million_output_tokens": env.float("OPENAI_GPT_IMAGE_1_MINI_COST_PER_MILLION_OUTPUT_TOKENS", default=8.0),
                "cost_per_image": env.float("OPENAI_GPT_IMAGE_1_MINI_COST_PER_IMAGE", default=0.011),  # when no usage comes
                "input": {"quality": "medium"},
                "licence": _openai_licence,
                "commercial_use": True,
            },
            "gpt-image-1": {
                "max_side": 1024,
                "cost_per_million_input_tokens": env.float("OPENAI_GPT_IMAGE_1_COST_PER_MILLION_INPUT_TOKENS", default=5.0),
                "cost_per_million_output_tokens": env.float("OPENAI_GPT_IMAGE_1_COST_PER_MILLION_OUTPUT_TOKENS", default=40.0),
                "cost_per_image": env.float("OPENAI_GPT_IMAGE_1_COST_PER_IMAGE", default=0.042),
                "input": {"quality": "medium"},
                "licence": _openai_licence,
                "commercial_use": True,
            },
            "dall-e-3": {
                "max_side": 1024,
                "cost_per_image": env.float("OPENAI_DALL_E_3_COST_PER_IMAGE", default=0.04),
                "licence": _openai_licence,
                "commercial_use": True,
            },
            "dall-e-2": {
                "max_side": 1024,
                "cost_per_image_by_side": {"256": 0.016, "512": 0.018, "1024": env.float("OPENAI_DALL_E_2_COST_PER_IMAGE", default=0.02)},
                "licence": _openai_licence,
                "commercial_use": True,
            },
        },
    },
}
TOGETHER_API_KEY = env("TOGETHER_API_KEY", default="")
TOGETHER_API_URL = env("TOGETHER_API_URL", default="https://api.together.xyz/v1")
GENERATION_PROVIDERS["together"] = {
    "BACKEND": "generation.providers.together.TogetherProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": TOGETHER_API_URL,
        "api_key": TOGETHER_API_KEY,
        "read_timeout": env.float("TOGETHER_READ_TIMEOUT_SECONDS", default=60.0),
        "models": {
            # width/height in 16 px steps. UNCONFIRMED: Together's largest side (its client's default is 1024).
            "black-forest-labs/FLUX.1-schnell-Free": {
                "max_side": 1024,
                "side_step": 16,
                "cost_per_megapixel": 0.0,  # Together's free FLUX endpoint (rate limited)
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX.1-schnell": {
                "max_side": 1024,
                "side_step": 16,
                "cost_per_megapixel": env.float("TOGETHER_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.0027),
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX.1-dev": {
                "max_side": 1024,
                "side_step": 16,
                "cost_per_megapixel": env.float("TOGETHER_FLUX_DEV_COST_PER_MEGAPIXEL", default=0.025),
                # UNCONFIRMED whether Together's serving clears FLUX.1 [dev] for commercial use: not claimed.
                "licence": "FLUX.1 [dev] (FLUX.1 [dev] Non-Commercial License): not cleared for commercial use.",
                "commercial_use": False,
            },
        },
    },
}
GENERATION_EXPECTED_SECONDS.update({"openai": 20, "together": 3})


# --- RunPod serverless (issue 19) ---------------------------------------------------------------
# One serverless endpoint per model, running a text-to-image worker in worker-comfyui's shape (see
# generation/providers/runpod.py); set up only with a key and the model's endpoint id. Billed per
# GPU-second of execution: the price is the endpoint's GPU type's (flex), the default a 48 GB card's.


def _workflow_file(path: str) -> dict:
    """An API-format ComfyUI workflow exported to a JSON file, for ComfyUI or a worker-comfyui endpoint (no path: none)."""
    if not path:
        return {}
    with open(path, encoding="utf-8") as workflow:
        return json.load(workflow)


GENERATION_PROVIDERS["runpod"] = {
    "BACKEND": "generation.providers.runpod.RunPodProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": env("RUNPOD_API_URL", default="https://api.runpod.ai/v2"),
        "api_key": env("RUNPOD_API_KEY", default=""),
        # Empty: the worker answers base64 images; list its bucket's host when it uploads them.
        "output_hosts": env.list("RUNPOD_OUTPUT_HOSTS", default=[]),
        "models": {
            "flux-schnell": {
                "endpoint_id": env("RUNPOD_FLUX_SCHNELL_ENDPOINT_ID", default=""),
                # Its placeholders "{prompt}", "{seed}", "{width}", "{height}", "{num_images}" are filled per request.
                "workflow": _workflow_file(env("RUNPOD_FLUX_SCHNELL_WORKFLOW_FILE", default="")),
                "max_side": 1024,
                "side_step": 64,
                "cost_per_gpu_second": env.float("RUNPOD_FLUX_SCHNELL_COST_PER_GPU_SECOND", default=0.00034),
                "licence": "FLUX.1 [schnell] (Apache-2.0), run on our own RunPod endpoint: the image may be used commercially.",
                "commercial_use": True,
            },
        },
    },
}
# ComfyUI (self-hosted, issue 19): set up only with its address and a model's stored workflow (no key:
# ComfyUI has none; COMFYUI_API_KEY is for a proxy in front). Billed at what the operator's GPU costs.
GENERATION_PROVIDERS["comfyui"] = {
    "BACKEND": "generation.providers.comfyui.ComfyUIProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": env("COMFYUI_API_URL", default=""),
        "api_key": env("COMFYUI_API_KEY", default=""),
        "models": {
            "flux-schnell": {
                "workflow": _workflow_file(env("COMFYUI_FLUX_SCHNELL_WORKFLOW_FILE", default="")),
                "max_side": 1024,
                "side_step": 64,
                "cost_per_gpu_second": env.float("COMFYUI_FLUX_SCHNELL_COST_PER_GPU_SECOND", default=0.0),
                "licence": "FLUX.1 [schnell] (Apache-2.0), run on our own ComfyUI: the image may be used commercially.",
                "commercial_use": True,
            },
        },
    },
}
# --- end RunPod and ComfyUI ---

# --- Issue 19 adapters: Stability AI and AUTOMATIC1111 ------------------------------------------
# Like fal and Replicate, neither is set up without its key (Stability) or its server's URL
# (AUTOMATIC1111, self-hosted): a site that sets neither runs exactly as before.
STABILITY_API_KEY = env("STABILITY_API_KEY", default="")
STABILITY_API_URL = env("STABILITY_API_URL", default="https://api.stability.ai")


def _stability_model(title: str, credits: float) -> dict:
    # Each model makes one square at aspect_ratio 1:1 (no size parameter). UNCONFIRMED: its side
    # (1024 assumed; core is said to make ~1.5 megapixels), and the licence wording: Stability's
    # API terms let the customer use the outputs commercially (check before relying on it).
    return {
        "max_side": 1024,
        "credits": credits,
        "licence": f"Stability AI {title} through Stability's API: the image may be used commercially under its terms.",
        "commercial_use": True,
    }


GENERATION_PROVIDERS["stability"] = {
    "BACKEND": "generation.providers.stability.StabilityProvider",
    "OPTIONS": {
        **_provider_common,
        "api_url": STABILITY_API_URL,
        "api_key": STABILITY_API_KEY,
        # Stability bills credits per image; a credit's price in USD.
        "usd_per_credit": env.float("STABILITY_USD_PER_CREDIT", default=0.01),
        # What each image costs, in credits (Stability's price list).
        "models": {
            "core": _stability_model("Stable Image Core", env.float("STABILITY_CORE_CREDITS", default=3.0)),
            "ultra": _stability_model("Stable Image Ultra", env.float("STABILITY_ULTRA_CREDITS", default=8.0)),
            "sd3.5-large": _stability_model("Stable Diffusion 3.5 Large", env.float("STABILITY_SD35_LARGE_CREDITS", default=6.5)),
            "sd3.5-large-turbo": _stability_model(
                "Stable Diffusion 3.5 Large Turbo", env.float("STABILITY_SD35_LARGE_TURBO_CREDITS", default=4.0)
            ),
            "sd3.5-medium": _stability_model("Stable Diffusion 3.5 Medium", env.float("STABILITY_SD35_MEDIUM_CREDITS", default=3.5)),
        },
    },
}
A1111_API_URL = env("A1111_API_URL", default="")
A1111_MODEL = env("A1111_MODEL", default="")
GENERATION_PROVIDERS["a1111"] = {
    "BACKEND": "generation.providers.a1111.A1111Provider",
    "OPTIONS": {
        **_provider_common,
        # The server's base URL (A1111's own default: http://127.0.0.1:7860); empty = not set up.
        "api_url": A1111_API_URL,
        # "user:pass" when the server runs with --api-auth.
        "api_key": env("A1111_API_AUTH", default=""),
        "model": A1111_MODEL,
        # The operator's price of the server's GPU time (self-hosted: nothing is billed by a vendor).
        "cost_per_gpu_second": env.float("A1111_COST_PER_GPU_SECOND", default=0.0),
        # /sdapi/v1/interrupt stops the server's current job: off for a server others share.
        "interrupt_on_cancel": env.bool("A1111_INTERRUPT_ON_CANCEL", default=True),
        "models": {
            A1111_MODEL: {
                "max_side": env.int("A1111_MAX_SIDE", default=1024),
                "side_step": 8,
                "licence": env("A1111_LICENCE", default="The operator's own checkpoint: its licence applies."),
                "commercial_use": env.bool("A1111_COMMERCIAL_USE", default=False),
            }
        },
    },
}
GENERATION_EXPECTED_SECONDS |= {"stability": 8, "a1111": 15}
