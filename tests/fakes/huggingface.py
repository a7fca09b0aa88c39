"""A local Hugging Face Inference router (hf-inference route: text-to-image answered as image bytes), with faults.

    python -m tests.fakes.huggingface --port 8125

`POST /hf-inference/models/{model_id}` with `Authorization: Bearer <token>` and `{"inputs", "parameters":
{"width", "height", "seed", …}}` answers a PNG of width x height with an `x-request-id` header. Errors are
`{"error": "..."}` (UNCONFIRMED for the router). Besides the common outcomes (tests/fakes/sync_image.py):

* "nsfw": 400 `{"error": "...NSFW content..."}` (UNCONFIRMED: the notes give no refusal signal);
* "nsfw_partial": this image is fine, the next call (same request's next image) is refused;
* "loading": 503 `{"error": "Model <id> is currently loading", "estimated_time": loading_seconds}`, then
  the next call succeeds (the legacy cold-start answer).
"""

import argparse
import time
from dataclasses import dataclass
from typing import ClassVar

from tests.fakes.server import FakeHandler
from tests.fakes.sync_image import OUTCOMES, SyncImageFake, serve_forever

HF_OUTCOMES = (*OUTCOMES, "loading")
ROUTE = "/hf-inference/models/"


@dataclass
class FakeHuggingFace(SyncImageFake):
    provider = "huggingface"
    api_key = "hf_fake-huggingface-token"
    default_model = "black-forest-labs/FLUX.1-schnell"
    costs: ClassVar[dict] = {
        "black-forest-labs/FLUX.1-schnell": {"cost_per_image": 0.002},
        "stabilityai/stable-diffusion-xl-base-1.0": {"cost_per_gpu_second": 0.001},
    }
    outcomes: ClassVar[tuple] = HF_OUTCOMES
    # `estimated_time` of a "loading" answer.
    loading_seconds: float = 0.2

    def adapter_options(self) -> dict:
        return {**super().adapter_options(), "loading_wait_cap": 1.0}

    def route(self, path: str) -> str | None:
        return path[len(ROUTE) :] if path.startswith(ROUTE) and len(path) > len(ROUTE) else None

    def authorized(self, header: str) -> bool:
        return header == f"Bearer {self.api_key}"

    def error_body(self, status: int, message: str) -> dict:
        return {"error": message}

    def answer(self, handler: FakeHandler, model: str, body: dict, outcome: str) -> None:
        request_id = self.record_call(model, str(body.get("inputs", "")), outcome)
        headers = {"x-request-id": request_id}
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        if not isinstance(body.get("inputs"), str) or not body["inputs"]:
            return handler._send(400, {"error": "inputs: a prompt is required"}, headers=headers)
        errors = {
            "nsfw": (400, "The prompt or generated image was flagged as NSFW content"),
            "error_permanent": (422, "Input validation error: `num_inference_steps` must be positive"),
            "error_transient": (500, "Internal Server Error"),
            "payment_required": (402, "You have exceeded your monthly included credits for Inference Providers."),
            "rate_limited": (429, "Rate limit reached. You reached free usage limit (reset hourly)."),
        }
        if outcome in errors:
            status, message = errors[outcome]
            if outcome == "rate_limited":
                headers["Retry-After"] = str(self.retry_after)
            return handler._send(status, {"error": message}, headers=headers)
        if outcome == "loading":
            return handler._send(
                503, {"error": f"Model {model} is currently loading", "estimated_time": self.loading_seconds}, headers=headers
            )
        if outcome == "nsfw_partial":
            self.next_outcomes.appendleft("nsfw")
        if outcome == "hang":
            time.sleep(self.hang_seconds)
        if outcome == "malformed":
            return handler._send(200, {"generated_text": "not an image"}, headers=headers)
        side = int(parameters.get("width") or 1024)
        data = self.image(int(parameters.get("seed") or 0), 0, side, outcome)
        return handler._send(200, data, content_type="image/png", headers=headers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Hugging Face Inference router on loopback.")
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--default-outcome", choices=HF_OUTCOMES, default="ok")
    args = parser.parse_args(argv)
    fake = FakeHuggingFace(port=args.port, latency=args.latency, default_outcome=args.default_outcome)
    serve_forever(fake, f"HF_API_URL={fake.url} HF_TOKEN={fake.api_key}")


if __name__ == "__main__":
    main()
