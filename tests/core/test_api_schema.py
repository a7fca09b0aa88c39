"""The OpenAPI schema (/api/schema/) and the docs page (/api/docs/): valid, complete, with examples
for every endpoint, and served without anything from another site."""

import json

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db, pytest.mark.fast]

OPERATIONS = {
    ("/api/v1/avatars", "get"): "avatars_list",
    ("/api/v1/avatars/facets", "get"): "avatars_facets",
    ("/api/v1/avatars/{avatar_id}", "get"): "avatars_get",
    ("/api/v1/generations", "get"): "generations_list",
    ("/api/v1/generations", "post"): "generations_create",
    ("/api/v1/generations/{job_id}", "get"): "generations_get",
    ("/api/v1/generations/{job_id}/cancel", "post"): "generations_cancel",
    ("/api/v1/usage", "get"): "usage_get",
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_every_endpoint_is_described_with_examples_errors_and_rate_limit_headers(schema):
    operations = {(path, method): op for path, item in schema["paths"].items() for method, op in item.items()}
    assert {key: op["operationId"] for key, op in operations.items()} == OPERATIONS
    for key, operation in operations.items():
        success = next(code for code in operation["responses"] if code.startswith("2"))
        content = operation["responses"][success]["content"]["application/json"]
        assert content.get("examples"), f"{key}: no example of a {success}"
        assert operation["summary"]
        assert {"401", "429"} <= set(operation["responses"]), key
        error_content = operation["responses"]["401"]["content"]["application/json"]
        assert error_content["schema"]["$ref"].endswith("/Error")
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(operation["responses"][success]["headers"])
    create = operations[("/api/v1/generations", "post")]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert "webhook_url" in schema["components"]["schemas"]["GenerationCreateParamsRequest"]["properties"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])


def test_keys_are_a_bearer_scheme_required_except_on_the_public_library(schema):
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "avk_<8 chars>_<40 chars>",
        "description": "An API key from the account page (plans with the API): `Authorization: Bearer avk_…`.",
    }  # fmt: skip
    for path, item in schema["paths"].items():
        for operation in item.values():
            anonymous_allowed = {} in operation["security"]
            assert anonymous_allowed == path.startswith("/api/v1/avatars"), path
            assert {"ApiKey": []} in operation["security"]


def test_the_docs_page_loads_swagger_ui_from_the_site_and_explains_webhooks(client, schema):
    page = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert '"validatorUrl": null' in page
    assert "https://" not in page  # no fonts or scripts from anywhere else
    assert "verify_webhook" in schema["info"]["description"]
    assert "Idempotency-Key" in schema["info"]["description"]


@pytest.mark.parametrize("path", ["/api/v1/avatars/-3", "/api/v1/nothing-here", "/api/v2/avatars"])
def test_api_urls_that_match_no_route_get_a_json_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "details": {}}}


def test_pages_that_do_not_exist_still_get_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
