"""A local DeepInfra native inference API (text-to-image answered as base64 data URIs), with faults.

    python -m tests.fakes.deepinfra --port 8126

`POST /v1/inference/{model}` with `Authorization: bearer <token>` (the scheme in any case) and `{"prompt",
"num_images", "width", "height", "seed", …}` answers `{"request_id", "inference_status": {"status":
"succeeded", "runtime_ms", "cost"}, "images": ["data:image/png;base64,…"], "nsfw_content_detected": [...]}`.
Errors are `{"detail": {"error": "..."}}`. Besides the common outcomes (tests/fakes/sync_image.py):

* "nsfw": every image flagged in `nsfw_content_detected` (UNCONFIRMED field; the images are black), billed;
* "nsfw_partial": the last image flagged;
* "bare_base64": the images without their `data:` prefix.

`cost_per_megapixel` prices the answer's `inference_status.cost` ($ x w/1024 x h/1024 per image);
`report_cost = False` leaves the cost out (the adapter then prices from its catalogue).
"""

import argparse
import base64
import io
import time
from dataclasses import dataclass
from typing import ClassVar

from PIL import Image

from tests.fakes.server import FakeHandler
from tests.fakes.sync_image import OUTCOMES, SyncImageFake, serve_forever

DEEPINFRA_OUTCOMES = (*OUTCOMES, "bare_base64")
ROUTE = "/v1/inference/"


def _black(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class FakeDeepInfra(SyncImageFake):
    provider = "deepinfra"
    api_key = "fake-deepinfra-token"
    default_model = "black-forest-labs/FLUX-1-schnell"
    costs: ClassVar[dict] = {
        "black-forest-labs/FLUX-1-schnell": {"cost_per_megapixel": 0.0005},
        "black-forest-labs/FLUX-2-dev": {"cost_per_megapixel": 0.01},
    }
    outcomes: ClassVar[tuple] = DEEPINFRA_OUTCOMES
    report_cost: bool = True

    def route(self, path: str) -> str | None:
        return path[len(ROUTE) :] if path.startswith(ROUTE) and len(path) > len(ROUTE) else None

    def authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token == self.api_key

    def error_body(self, status: int, message: str) -> dict:
        return {"detail": {"error": message}}

    def answer(self, handler: FakeHandler, model: str, body: dict, outcome: str) -> None:
        request_id = self.record_call(model, str(body.get("prompt", "")), outcome)
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return handler.error(422, "prompt: field required")
        errors = {
            "error_permanent": (422, "num_inference_steps: ensure this value is less than or equal to 50"),
            "error_transient": (500, "Internal server error"),
            "payment_required": (402, "Payment required: add a payment method or top up your balance"),
            "rate_limited": (429, "Rate limit exceeded"),
        }
        if outcome in errors:
            status, message = errors[outcome]
            headers = {"Retry-After": str(self.retry_after)} if outcome == "rate_limited" else None
            return handler.error(status, message, headers)
        if outcome == "hang":
            time.sleep(self.hang_seconds)
        if outcome == "malformed":
            return handler._send(200, {"request_id": request_id, "inference_status": {"status": "succeeded"}})
        return handler._send(200, self.success(request_id, body, outcome))

    def success(self, request_id: str, body: dict, outcome: str) -> dict:
        side, count, seed = int(body.get("width") or 1024), int(body.get("num_images") or 1), int(body.get("seed") or 0)
        flags = [outcome == "nsfw" or (outcome == "nsfw_partial" and index == count - 1) for index in range(count)]
        images = [_black(side) if flagged else self.image(seed, index, side, outcome) for index, flagged in enumerate(flags)]
        prefix = "" if outcome == "bare_base64" else "data:image/png;base64,"
        price = float(self.costs.get(self._model_of(request_id), {}).get("cost_per_megapixel", 0.0))
        status: dict = {"status": "succeeded", "runtime_ms": int(self.latency * 1000)}
        if self.report_cost:
            status["cost"] = round(price * side * side / (1024 * 1024) * count, 6)
        return {
            "request_id": request_id,
            "inference_status": status,
            "images": [prefix + base64.b64encode(image).decode() for image in images],
            "nsfw_content_detected": flags,
            "seed": seed,
        }

    def _model_of(self, request_id: str) -> str:
        return next((call["model"] for call in self.calls if call["id"] == request_id), "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake DeepInfra inference API on loopback.")
    parser.add_argument("--port", type=int, default=8126)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--default-outcome", choices=DEEPINFRA_OUTCOMES, default="ok")
    args = parser.parse_args(argv)
    fake = FakeDeepInfra(port=args.port, latency=args.latency, default_outcome=args.default_outcome)
    serve_forever(fake, f"DEEPINFRA_API_URL={fake.url} DEEPINFRA_API_KEY={fake.api_key}")


if __name__ == "__main__":
    main()
