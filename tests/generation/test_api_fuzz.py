"""API fuzzing finds no 5xx and no schema violation: schemathesis generates requests for every operation of the API's own OpenAPI schema and
sends them, with a key, to the running site: no answer is a 5xx, and every answer (status, content
type, body, headers) is one the schema declares."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing.models import Plan, Subscription
from billing.services import api_key_create

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance]


@pytest.mark.django_db(transaction=True)
def test_generated_requests_get_no_5xx_and_only_declared_answers(live_server, client, django_user_model, settings):
    settings.PUBLIC_API_RATE_PER_MINUTE = 1_000_000  # the throttle is tested elsewhere: here every request reaches its view
    Plan.objects.filter(slug="enterprise").update(api_rate_per_minute=1_000_000)
    user = django_user_model.objects.create_user("fuzzer", "fuzzer@example.com", "pw-123456789")
    Subscription.objects.create(user=user, plan=Plan.objects.get(slug="enterprise"))
    _, raw_key = api_key_create(user=user, name="fuzzing")
    schema = schemathesis.openapi.from_dict(client.get("/api/schema/", {"format": "json"}).json())
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {raw_key}"
    tested = []

    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)

        @hypothesis_settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def send(case) -> None:
            case.call_and_validate(base_url=live_server.url, session=session, checks=CHECKS)

        send()

    assert len(tested) == 8
