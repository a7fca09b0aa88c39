"""A local Together images API (`POST /v1/images/generations`, `response_format: "base64"`), with faults on demand.

Run it on its own for development or a benchmark:

    python -m tests.fakes.together --port 8126 --latency 0.75

Outcomes are scripted as in the OpenAI fake (tests/fakes/openai.py: a `[fake:<outcome>]` prompt
marker, `next_outcomes`, `default_outcome`), with Together's shapes: the answer is
`{"id", "model", "object": "list", "data": [{"index", "b64_json"}]}`; "nsfw" is a 422 whose error
names NSFW content (UNCONFIRMED: Together's refusal signal is not documented; the adapter reads the
code and message), errors are `{"error": {"message", "type", "param", "code"}}` (the notes say the
fields may come bare or under `error`: nested here). The request is checked as FLUX takes it: a
bearer key, a known model, `width`/`height` multiples of 16 up to `max_side`, `n` 1-4, an integer
`seed`, `response_format` "base64" (the fake refuses "b64_json" and "url": the adapter must send the
literal that providers_additions C.4 settled). There is no cancel: `cancellations` stays empty.
"""

import secrets
import time
from dataclasses import dataclass

from tests.fakes.openai import FakeOpenAI, Refusal, encoded_image, error_body, main

MODELS = {
    "black-forest-labs/FLUX.1-schnell": {"cost_per_megapixel": 0.0027},
    "black-forest-labs/FLUX.1-schnell-Free": {"cost_per_megapixel": 0.0},
    "black-forest-labs/FLUX.1-dev": {"cost_per_megapixel": 0.025},
}


@dataclass
class FakeTogether(FakeOpenAI):
    api_key: str = "together-fake-key"
    default_model: str = "black-forest-labs/FLUX.1-schnell"
    max_side: int = 1792
    provider_name = "together"
    default_port = 8126

    def adapter_options(self) -> dict:
        models = {model: {**costs, "licence": f"{model} licence (fake)"} for model, costs in MODELS.items()}
        return {**self.common_options(), "models": models}

    def check(self, headers, body: object) -> tuple[str, int, int, str]:
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            raise Refusal(401, error_body("Invalid API key provided", kind="invalid_request_error", code="invalid_api_key"))
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"]:
            raise Refusal(400, error_body("prompt is required", kind="invalid_request_error", param="prompt"))
        model = body.get("model")
        if model not in MODELS:
            raise Refusal(404, error_body(f"Unable to access model {model}.", kind="invalid_request_error", code="model_not_available"))
        width, height, n = body.get("width", 1024), body.get("height", 1024), body.get("n", 1)
        for name, side in (("width", width), ("height", height)):
            if not isinstance(side, int) or side % 16 or not 64 <= side <= self.max_side:
                raise Refusal(422, error_body(f"{name} must be a multiple of 16 in 64..{self.max_side}", kind="invalid_request_error"))
        if width != height:
            raise Refusal(422, error_body("this fake makes squares only", kind="invalid_request_error", param="height"))
        if not isinstance(n, int) or not 1 <= n <= 4:
            raise Refusal(422, error_body("n must be 1..4", kind="invalid_request_error", param="n"))
        if "seed" in body and not isinstance(body["seed"], int):
            raise Refusal(422, error_body("seed must be an integer", kind="invalid_request_error", param="seed"))
        if body.get("response_format") != "base64":
            message = f"response_format {body.get('response_format')!r}: this fake answers 'base64' only"
            raise Refusal(400, error_body(message, kind="invalid_request_error", param="response_format"))
        return model, width, n, "jpeg"

    def refusal_for(self, outcome: str, model: str) -> Refusal | None:
        if outcome == "nsfw":
            message = "NSFW content detected in the generated image. Try a different prompt."
            return Refusal(422, error_body(message, kind="invalid_request_error", code="nsfw_content_detected"))
        if outcome == "error_permanent":
            return Refusal(402, error_body("Credit limit exceeded.", kind="credit_limit", code="payment_required"))
        if outcome == "error_transient":
            return Refusal(503, error_body("The server is overloaded, please try again.", kind="service_unavailable"))
        return super().refusal_for(outcome, model)

    def answer(self, model: str, side: int, n: int, fmt: str, body: dict, outcome: str) -> dict:
        seed = body.get("seed", 0)
        side = self.undersized_side if outcome == "undersized" else side
        data = [{"index": i, "b64_json": encoded_image(seed, i, side, fmt), "timings": {"inference": 0.4}} for i in range(n)]
        return {"id": f"{secrets.token_hex(8)}-{int(time.time())}", "model": model, "object": "list", "data": data}


if __name__ == "__main__":
    main(FakeTogether)
