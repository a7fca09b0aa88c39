"""Files in R2 (moto plays R2 here): the public CDN storage and the private presigned one."""

import multiprocessing
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

from avatarsite.runtime.s3 import R2Storage
from tests.support.s3_capture import s3_capture_server

IMMUTABLE = "public, max-age=31536000, immutable"


def _unique_name(suffix: str = ".webp") -> str:
    return f"tests/{uuid.uuid4().hex}{suffix}"


def test_public_file_is_readable_over_http_with_an_immutable_cache_control():
    storage = storages["public"]
    name = storage.save(_unique_name(), ContentFile(b"RIFF-fake-webp-bytes", name="a.webp"))

    url = storage.url(name)
    response = requests.get(url, timeout=10)

    assert urlsplit(url).query == ""
    assert (
        url == f"{settings.STORAGES['public']['OPTIONS']['url_protocol']}//{settings.STORAGES['public']['OPTIONS']['custom_domain']}/{name}"
    )
    assert response.status_code == 200
    assert response.content == b"RIFF-fake-webp-bytes"
    assert response.headers["Cache-Control"] == IMMUTABLE


def test_private_file_upload_presigned_get_and_delete_work_against_the_s3_server():
    """P-R2-3: upload, presigned GET and delete against moto in server mode."""
    storage = storages["default"]
    name = storage.save(_unique_name(".png"), ContentFile(b"\x89PNG private bytes"))

    presigned = storage.url(name)
    anonymous = requests.get(presigned.split("?")[0], timeout=10)
    signed = requests.get(presigned, timeout=10)
    storage.delete(name)

    assert anonymous.status_code == 403  # the private bucket is not public
    assert signed.status_code == 200
    assert signed.content == b"\x89PNG private bytes"
    assert not storage.exists(name)


def test_every_thread_of_a_process_signs_with_one_connection():
    """Under ASGI each request runs in a thread of its own: a connection per thread (django-storages'
    default) rebuilt a boto3 session for every request that signed a URL, about 100 ms."""
    storage = R2Storage(**settings.STORAGES["default"]["OPTIONS"])
    name = storage.save(_unique_name(".png"), ContentFile(b"\x89PNG shared"))
    connections, urls = [], []

    def sign() -> None:
        connections.append(storage.connection)
        urls.append(storage.url(name))

    threads = [threading.Thread(target=sign) for _ in range(3)]
    for thread in threads:
        thread.start()
        thread.join()  # one after another, as requests are: each thread is new
    sign()

    assert len(connections) == 4
    assert all(connection is connections[0] for connection in connections)
    assert all(requests.get(url, timeout=10).content == b"\x89PNG shared" for url in urls)


def _sign_in_child(storage: R2Storage, inherited: object, name: str, results) -> None:
    url = storage.url(name)
    results.put((storage.connection is not inherited, requests.get(url, timeout=10).status_code))


def test_a_forked_child_makes_its_own_connection():
    """A Celery prefork child must not use the sockets of the connection its parent made."""
    storage = R2Storage(**settings.STORAGES["default"]["OPTIONS"])
    name = storage.save(_unique_name(".png"), ContentFile(b"\x89PNG forked"))
    storage.url(name)  # the parent's connection, made before the fork
    inherited = storage.connection  # the child's copy of it is what the child must not use
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_sign_in_child, args=(storage, inherited, name, results))
    child.start()
    child.join(30)

    assert child.exitcode == 0
    assert results.get(timeout=5) == (True, 200)


def test_public_urls_are_plain_cdn_urls_and_private_urls_expire_within_ten_minutes():
    """P-R2-2, with the configuration a real deployment has (CDN domain, R2 endpoint)."""
    public_options = {**settings.STORAGES["public"]["OPTIONS"], "custom_domain": "cdn.example.com", "url_protocol": "https:"}
    private_options = {
        **settings.STORAGES["default"]["OPTIONS"],
        "endpoint_url": "https://account.r2.cloudflarestorage.com",
        "region_name": "auto",
    }

    public_url = S3Storage(**public_options).url("gallery/ab/abcdef.webp")
    private_url = S3Storage(**private_options).url("generated/ab/abcdef.png")

    assert public_url == "https://cdn.example.com/gallery/ab/abcdef.webp"
    assert public_options["object_parameters"]["CacheControl"] == IMMUTABLE
    query = parse_qs(urlsplit(private_url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "/auto/s3/aws4_request" in query["X-Amz-Credential"][0]
    assert 0 < int(query["X-Amz-Expires"][0]) <= 600


CHECKSUM_OR_ACL_HEADERS = ("x-amz-checksum-", "x-amz-sdk-checksum-algorithm", "x-amz-acl")


def _forbidden_headers(headers: dict[str, str]) -> list[str]:
    found = [name for name in headers if name.startswith(CHECKSUM_OR_ACL_HEADERS)]
    if "aws-chunked" in headers.get("content-encoding", ""):
        found.append("content-encoding: aws-chunked")
    return found


@pytest.mark.parametrize("alias", ["default", "public"])
def test_uploads_send_no_checksum_or_acl_headers_that_r2_rejects(alias):
    """P-R2-1, through the project's own storage configuration, on a header-capturing endpoint."""
    with s3_capture_server() as (endpoint, log):
        storage = S3Storage(**{**settings.STORAGES[alias]["OPTIONS"], "endpoint_url": endpoint})
        storage.save("probe/avatar.webp", ContentFile(b"x" * 2048))

    [put] = log.puts()
    assert put.body.endswith(b"x" * 2048)
    assert _forbidden_headers(put.headers) == []


def test_header_capture_detects_the_checksum_headers_of_boto3_defaults():
    """The capture server would catch a regression: boto3's own defaults do send checksums."""
    options = {**settings.STORAGES["public"]["OPTIONS"]}
    options.pop("client_config")
    with s3_capture_server() as (endpoint, log):
        S3Storage(**{**options, "endpoint_url": endpoint}).save("probe/avatar.webp", ContentFile(b"x" * 2048))

    [put] = log.puts()
    assert any(name.startswith("x-amz-checksum-") for name in _forbidden_headers(put.headers))


@pytest.mark.parametrize("alias", ["default", "public"])
def test_uploads_send_their_body_at_once_without_waiting_for_100_continue(alias):
    """No round trip to R2 before each upload's body goes out (R2Storage), through django-storages'
    save() and the single PutObject the pipeline sends."""
    with s3_capture_server() as (endpoint, log):
        storage = R2Storage(**{**settings.STORAGES[alias]["OPTIONS"], "endpoint_url": endpoint})
        storage.save("probe/saved.webp", ContentFile(b"x" * 2048))
        storage.connection.meta.client.put_object(Bucket=storage.bucket_name, Key="probe/put.webp", Body=b"y" * 2048)

    puts = log.puts()
    assert [put.body[-2048:] for put in puts] == [b"x" * 2048, b"y" * 2048]
    assert [put.headers.get("expect") for put in puts] == [None, None]


def test_header_capture_sees_the_100_continue_that_botocore_sends_by_default():
    with s3_capture_server() as (endpoint, log):
        S3Storage(**{**settings.STORAGES["default"]["OPTIONS"], "endpoint_url": endpoint}).save("probe/a.webp", ContentFile(b"x" * 2048))

    assert log.puts()[0].headers.get("expect") == "100-continue"


def test_a_started_write_gives_the_key_at_once_and_stores_the_bytes_on_the_upload_thread():
    from avatarsite.core.storage import content_key, store_content_started

    data = b"\x89PNG started " + uuid.uuid4().bytes
    written_in = []

    def record_put(**kwargs) -> None:
        written_in.append(threading.current_thread().name)

    # botocore's own hook on the process's S3 client: which thread sends the PutObject.
    events = storages["default"].connection.meta.client.meta.events
    events.register("before-call.s3.PutObject", record_put, unique_id="test-upload-thread")
    try:
        write = store_content_started(storage="default", prefix="tests", data=data, fmt="png")
        assert (write.key, write.size) == (content_key(prefix="tests", data=data, fmt="png"), len(data))
        write.written.result(timeout=30)
    finally:
        events.unregister("before-call.s3.PutObject", unique_id="test-upload-thread")

    with storages["default"].open(write.key) as stored:
        assert stored.read() == data
    assert [name.startswith("store-content") for name in written_in] == [True]  # once, on the upload thread
