"""The gallery API's bodies and their OpenAPI schema come from the same serializers (gallery/payloads.py):
for real avatars (imported photos and the drawn demo library), the schema drf-spectacular generates
names exactly the keys of the avatar, page and facets bodies at every level; and the compiled build
the list uses for speed sends what DRF's own per-field path makes of the same declared fields."""

import json
from types import SimpleNamespace

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from avatarsite.core.serializers import CompiledSerializer
from gallery.demo import demo_library_load
from gallery.models import Avatar
from gallery.payloads import AvatarPageSerializer, AvatarSerializer, avatar_page_body
from tests.support.openapi_schema import response_schema, schema_mismatches

pytestmark = pytest.mark.django_db

LIST = "/api/v1/avatars"


@pytest.fixture
def library(avatars) -> list[Avatar]:
    """Imported Pexels photos (attribution required) beside drawn demo avatars (none required)."""
    demo_library_load(count=3, size=64)
    return list(Avatar.objects.order_by("pk"))


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_names_exactly_the_keys_of_real_avatar_page_and_facets_bodies(client, library, schema):
    page = client.get(LIST, {"limit": 100}).json()
    last = client.get(LIST, {"limit": 4}).json()  # a page with a next link
    details = [client.get(f"{LIST}/{avatar.pk}").json() for avatar in library]
    facets = client.get(f"{LIST}/facets").json()

    assert len(page["results"]) == len(library)
    assert page["next"] is None
    assert last["next"].startswith("http://testserver/api/v1/avatars?")
    assert {body["provenance"]["source"] for body in details} == {"pexels", "demo"}
    assert all(body["variants"] for body in details)  # every level is present
    assert facets["source"] == {"demo": 3, "pexels": 10}
    page_schema = response_schema(schema, LIST, "get", "200")
    assert schema_mismatches(schema, page_schema, page) == []
    assert schema_mismatches(schema, page_schema, last) == []
    for body in details:
        assert schema_mismatches(schema, response_schema(schema, f"{LIST}/{{avatar_id}}", "get", "200"), body, str(body["id"])) == []
    assert schema_mismatches(schema, response_schema(schema, f"{LIST}/facets", "get", "200"), facets) == []


def test_the_compiled_bodies_are_what_drf_makes_of_the_same_fields(library):
    """Byte for byte, at every level: the compiled build reads the declared fields, and DRF's own
    per-field path (the context's `generic`) is the reference it must equal."""
    next_url = "http://testserver/api/v1/avatars?cursor=abc"

    compiled = JSONRenderer().render(avatar_page_body(avatars=library, next_url=next_url))
    generic = AvatarPageSerializer(SimpleNamespace(results=library, next=next_url), context={"generic": True}).data

    assert compiled == JSONRenderer().render(generic)
    for avatar in library:
        assert AvatarSerializer(avatar).data == AvatarSerializer(avatar, context={"generic": True}).data
    assert json.loads(compiled)["results"][0]["provenance"]["retrieved_at"].endswith("+00:00")  # not DRF's Z


def test_a_field_with_no_compiled_form_is_refused_loudly():
    """A field the compiled build cannot send as DRF would fails the first body, not silently."""

    class Computed(CompiledSerializer):
        """A body with a method field."""

        shown = serializers.SerializerMethodField()

        def get_shown(self, instance) -> str:
            return "x"

    with pytest.raises(TypeError, match="SerializerMethodField 'shown': no compiled form"):
        Computed(object()).data  # noqa: B018
