"""The API's bodies and their OpenAPI schema come from the same serializers (generation/payloads.py):
for real jobs and a real usage report, the schema drf-spectacular generates names exactly the keys
each body carries, at every level (job, error, images, variants, provenance, applied), so the two
cannot drift apart."""

import json

import pytest
from django.utils import timezone

from billing.models import Invoice, Plan
from generation.models import ErrorKind, GenerationJob
from generation.services import generation_job_create, generation_job_run
from tests.billing.factories import ApiKeyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def ada_key():
    ada = SubscriptionFactory(user__username="ada", plan__slug="enterprise").user
    return ada, {"HTTP_AUTHORIZATION": f"Bearer {ApiKeyFactory(user=ada, name='test').raw}"}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _resolve(schema: dict, node: dict) -> dict:
    """The node itself, with a reference (also one wrapped for nullability) followed."""
    for wrapper in ("allOf", "oneOf", "anyOf"):
        if wrapper in node:
            node = next(part for part in node[wrapper] if part.get("type") != "null")
    if "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _schema_mismatches(schema: dict, node: dict, value, where: str = "") -> list[str]:
    """Every place where the body's keys are not exactly the properties its schema names."""
    if value is None:  # nullable is said beside a reference, or in the type (OpenAPI 3.1)
        types = [node.get("type")] + [part.get("type") for part in node.get("oneOf", []) + node.get("anyOf", [])]
        nullable = node.get("nullable") or "null" in types or _resolve(schema, node).get("nullable")
        return [] if nullable else [f"{where}: null, not nullable"]
    node = _resolve(schema, node)
    if "properties" in node:
        found = []
        if set(value) != set(node["properties"]):
            found.append(f"{where}: body {sorted(value)} != schema {sorted(node['properties'])}")
        for key in set(value) & set(node["properties"]):
            found += _schema_mismatches(schema, node["properties"][key], value[key], f"{where}.{key}")
        return found
    if node.get("type") == "array":
        return [m for index, item in enumerate(value) for m in _schema_mismatches(schema, node["items"], item, f"{where}[{index}]")]
    return []


def _response_schema(schema: dict, path: str, method: str, status: str) -> dict:
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def test_the_job_schema_names_exactly_the_keys_of_real_job_bodies(client, ada_key, schema):
    ada, key = ada_key
    done = generation_job_create(user_id=ada.pk, prompt="A calm man with curly red hair", style="comic", num_images=2)
    generation_job_run(job_id=str(done.id))
    queued = generation_job_create(user_id=ada.pk, prompt="A serious woman", style="comic")
    failed = generation_job_create(user_id=ada.pk, prompt="A smiling person", style="comic")
    GenerationJob.objects.filter(pk=failed.pk).update(status=GenerationJob.Status.FAILED, error_kind=ErrorKind.REFUSED, message="No")
    job_schema = _response_schema(schema, "/api/v1/generations/{job_id}", "get", "200")

    bodies = {str(job.id): client.get(f"{URL}/{job.id}", **key).json() for job in (done, queued, failed)}
    page = client.get(URL, **key).json()

    succeeded = bodies[str(done.id)]
    assert succeeded["status"] == "succeeded"
    assert succeeded["images"][0]["variants"]  # every level is present
    assert succeeded["images"][0]["provenance"]["applied"]["requested"]
    assert bodies[str(failed.id)]["error"] == {"kind": "refused", "message": "No"}
    for job_id, body in bodies.items():
        assert _schema_mismatches(schema, job_schema, body, job_id) == []
    assert _schema_mismatches(schema, _response_schema(schema, "/api/v1/generations", "get", "200"), page) == []
    assert len(page["results"]) == 3


def test_the_usage_schema_names_exactly_the_keys_of_a_real_usage_body(client, ada_key, schema):
    ada, key = ada_key
    Plan.objects.filter(slug="enterprise").update(daily_quota=50, hourly_quota=None)
    generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm man", style="comic").id))
    Invoice.objects.create(stripe_invoice_id="in_1", user=ada, status="paid", amount_paid=900, amount_due=900, created=timezone.now())

    body = client.get("/api/v1/usage", **key).json()

    assert body["spend"] == [{"currency": "usd", "amount_paid": 900}]
    assert body["quotas"], "the enterprise plan has a quota window"
    assert _schema_mismatches(schema, _response_schema(schema, "/api/v1/usage", "get", "200"), body) == []


def test_a_key_the_schema_does_not_name_is_found():
    """The check itself: a body with a key too many, or one missing deep down, is reported."""
    schema = {
        "components": {
            "schemas": {
                "Inner": {"type": "object", "properties": {"a": {"type": "integer"}}},
                "Outer": {"type": "object", "properties": {"inner": {"$ref": "#/components/schemas/Inner"}}},
            }
        }
    }
    outer = {"$ref": "#/components/schemas/Outer"}

    assert _schema_mismatches(schema, outer, {"inner": {"a": 1}}) == []
    assert _schema_mismatches(schema, outer, {"inner": {"a": 1, "b": 2}}) == [".inner: body ['a', 'b'] != schema ['a']"]
    assert _schema_mismatches(schema, outer, {"inner": {"a": 1}, "extra": 0}) == [": body ['extra', 'inner'] != schema ['inner']"]
