"""The image services beyond fal, Replicate and the local generator (generation.py), each an entry of
GENERATION_PROVIDERS and set up only when its key or server URL is given: Hugging Face Inference,
DeepInfra, OpenAI images, Together, RunPod serverless, ComfyUI, Stability AI and AUTOMATIC1111."""

import json

from .env import env
from .generation import GENERATION_EXPECTED_SECONDS, GENERATION_PROVIDERS, _provider_common

# --- Hugging Face Inference (router) and DeepInfra: synchronous text-to-image providers -----------
# Set up only with a key (HF_TOKEN / DEEPINFRA_API_KEY): without one the adapter is not `configured`
# and no plan chain can reach it. Both answer the image in the response (bytes / base64): no output host.
HF_TOKEN = env("HF_TOKEN", default="")
HF_API_URL = env("HF_API_URL", default="https://router.huggingface.co")
DEEPINFRA_API_KEY = env("DEEPINFRA_API_KEY", default="")
DEEPINFRA_API_URL = env("DEEPINFRA_API_URL", default="https://api.deepinfra.com")
GENERATION_PROVIDERS["huggingface"] = {
    "BACKEND": "generation.providers.huggingface.HuggingFaceProvider",
    "KEY_ENV": "HF_TOKEN",
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
                "images_per_call": 4,
                "side_step": 16,
                "parameters": {"num_inference_steps": 4},
                "cost_per_gpu_second": env.float("HF_COST_PER_SECOND", default=0.00012),
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX.1-dev": {
                "provider": "hf-inference",
                "max_side": 1024,
                "images_per_call": 4,
                "side_step": 16,
                "parameters": {"num_inference_steps": 28},
                "cost_per_gpu_second": env.float("HF_COST_PER_SECOND", default=0.00012),
                "licence": "FLUX.1 [dev] Non-Commercial License: not cleared for commercial use.",
                "commercial_use": False,
            },
        },
    },
}
GENERATION_PROVIDERS["deepinfra"] = {
    "BACKEND": "generation.providers.deepinfra.DeepInfraProvider",
    "KEY_ENV": "DEEPINFRA_API_KEY",
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
                "images_per_call": 4,
                "side_step": 16,
                # UNCONFIRMED price: not in the protocol notes.
                "cost_per_megapixel": env.float("DEEPINFRA_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.0005),
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX-2-dev": {
                "max_side": 1024,
                "images_per_call": 4,
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
    "KEY_ENV": "OPENAI_API_KEY",
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
                "images_per_call": 10,
                "cost_per_million_input_tokens": env.float("OPENAI_GPT_IMAGE_1_MINI_COST_PER_MILLION_INPUT_TOKENS", default=2.0),
                "cost_per_million_output_tokens": env.float("OPENAI_GPT_IMAGE_1_MINI_COST_PER_MILLION_OUTPUT_TOKENS", default=8.0),
                "cost_per_image": env.float("OPENAI_GPT_IMAGE_1_MINI_COST_PER_IMAGE", default=0.011),  # when no usage comes
                "input": {"quality": "medium"},
                "licence": _openai_licence,
                "commercial_use": True,
            },
            "gpt-image-1": {
                "max_side": 1024,
                "images_per_call": 10,
                "cost_per_million_input_tokens": env.float("OPENAI_GPT_IMAGE_1_COST_PER_MILLION_INPUT_TOKENS", default=5.0),
                "cost_per_million_output_tokens": env.float("OPENAI_GPT_IMAGE_1_COST_PER_MILLION_OUTPUT_TOKENS", default=40.0),
                "cost_per_image": env.float("OPENAI_GPT_IMAGE_1_COST_PER_IMAGE", default=0.042),
                "input": {"quality": "medium"},
                "licence": _openai_licence,
                "commercial_use": True,
            },
            "dall-e-3": {
                "max_side": 1024,
                "images_per_call": 1,
                "cost_per_image": env.float("OPENAI_DALL_E_3_COST_PER_IMAGE", default=0.04),
                "licence": _openai_licence,
                "commercial_use": True,
            },
            "dall-e-2": {
                "max_side": 1024,
                "images_per_call": 10,
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
    "KEY_ENV": "TOGETHER_API_KEY",
    "OPTIONS": {
        **_provider_common,
        "api_url": TOGETHER_API_URL,
        "api_key": TOGETHER_API_KEY,
        "read_timeout": env.float("TOGETHER_READ_TIMEOUT_SECONDS", default=60.0),
        "models": {
            # width/height in 16 px steps. UNCONFIRMED: Together's largest side (its client's default is 1024).
            "black-forest-labs/FLUX.1-schnell-Free": {
                "max_side": 1024,
                "images_per_call": 4,
                "side_step": 16,
                "cost_per_megapixel": 0.0,  # Together's free FLUX endpoint (rate limited)
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX.1-schnell": {
                "max_side": 1024,
                "images_per_call": 4,
                "side_step": 16,
                "cost_per_megapixel": env.float("TOGETHER_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.0027),
                "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                "commercial_use": True,
            },
            "black-forest-labs/FLUX.1-dev": {
                "max_side": 1024,
                "images_per_call": 4,
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
    "KEY_ENV": "RUNPOD_API_KEY",
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
                "images_per_call": 4,
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
    "KEY_ENV": "COMFYUI_API_KEY",
    "OPTIONS": {
        **_provider_common,
        "api_url": env("COMFYUI_API_URL", default=""),
        "api_key": env("COMFYUI_API_KEY", default=""),
        "models": {
            "flux-schnell": {
                "workflow": _workflow_file(env("COMFYUI_FLUX_SCHNELL_WORKFLOW_FILE", default="")),
                "max_side": 1024,
                "images_per_call": 4,
                "side_step": 64,
                "cost_per_gpu_second": env.float("COMFYUI_FLUX_SCHNELL_COST_PER_GPU_SECOND", default=0.0),
                "licence": "FLUX.1 [schnell] (Apache-2.0), run on our own ComfyUI: the image may be used commercially.",
                "commercial_use": True,
            },
        },
    },
}
# Until the ledger has measured times (the ETA prefers them): a serverless cold start, a local GPU.
GENERATION_EXPECTED_SECONDS |= {"runpod": 12, "comfyui": 8}
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
        "images_per_call": 4,
        "credits": credits,
        "licence": f"Stability AI {title} through Stability's API: the image may be used commercially under its terms.",
        "commercial_use": True,
    }


GENERATION_PROVIDERS["stability"] = {
    "BACKEND": "generation.providers.stability.StabilityProvider",
    "KEY_ENV": "STABILITY_API_KEY",
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
    "KEY_ENV": "A1111_API_AUTH",
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
                "images_per_call": 8,
                "side_step": 8,
                "licence": env("A1111_LICENCE", default="The operator's own checkpoint: its licence applies."),
                "commercial_use": env.bool("A1111_COMMERCIAL_USE", default=False),
            }
        },
    },
}
GENERATION_EXPECTED_SECONDS |= {"stability": 8, "a1111": 15}
