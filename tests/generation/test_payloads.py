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
from tests.support.openapi_schema import response_schema, schema_mismatches

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


def test_the_job_schema_names_exactly_the_keys_of_real_job_bodies(client, ada_key, schema):
    ada, key = ada_key
    done = generation_job_create(user_id=ada.pk, prompt="A calm man with curly red hair", style="comic", num_images=2)
    generation_job_run(job_id=str(done.id))
    queued = generation_job_create(user_id=ada.pk, prompt="A serious woman", style="comic")
    failed = generation_job_create(user_id=ada.pk, prompt="A smiling person", style="comic")
    GenerationJob.objects.filter(pk=failed.pk).update(status=GenerationJob.Status.FAILED, error_kind=ErrorKind.REFUSED, message="No")
    job_schema = response_schema(schema, "/api/v1/generations/{job_id}", "get", "200")

    bodies = {str(job.id): client.get(f"{URL}/{job.id}", **key).json() for job in (done, queued, failed)}
    page = client.get(URL, **key).json()

    succeeded = bodies[str(done.id)]
    assert succeeded["status"] == "succeeded"
    assert succeeded["images"][0]["variants"]  # every level is present
    assert succeeded["images"][0]["provenance"]["applied"]["requested"]
    assert bodies[str(failed.id)]["error"] == {"kind": "refused", "message": "No"}
    for job_id, body in bodies.items():
        assert schema_mismatches(schema, job_schema, body, job_id) == []
    assert schema_mismatches(schema, response_schema(schema, "/api/v1/generations", "get", "200"), page) == []
    assert len(page["results"]) == 3


def test_the_usage_schema_names_exactly_the_keys_of_a_real_usage_body(client, ada_key, schema):
    ada, key = ada_key
    Plan.objects.filter(slug="enterprise").update(daily_quota=50, hourly_quota=None)
    generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm man", style="comic").id))
    Invoice.objects.create(stripe_invoice_id="in_1", user=ada, status="paid", amount_paid=900, amount_due=900, created=timezone.now())

    body = client.get("/api/v1/usage", **key).json()

    assert body["spend"] == [{"currency": "usd", "amount_paid": 900}]
    assert body["quotas"], "the enterprise plan has a quota window"
    assert schema_mismatches(schema, response_schema(schema, "/api/v1/usage", "get", "200"), body) == []


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

    assert schema_mismatches(schema, outer, {"inner": {"a": 1}}) == []
    assert schema_mismatches(schema, outer, {"inner": {"a": 1, "b": 2}}) == [".inner: body ['a', 'b'] != schema ['a']"]
    assert schema_mismatches(schema, outer, {"inner": {"a": 1}, "extra": 0}) == [": body ['extra', 'inner'] != schema ['inner']"]
