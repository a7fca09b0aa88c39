"""The books check itself (tests/faults/books.py), on hand-made rows in the test database and objects
in the S3 server: a balanced state passes, and each way of unbalancing it is found (so a fault case
cannot pass because the check looks at nothing)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

import boto3
import pytest

from avatarsite.accounts.services import user_create
from generation.models import CostEntry, GeneratedImage, GenerationJob
from tests.conftest import PRIVATE_BUCKET, S3_KEY_ID, S3_SECRET
from tests.faults.books import IMBALANCES, ProviderRequest, books_check, s3_object_exists

pytestmark = pytest.mark.django_db


@dataclass
class Scene:
    """Seven jobs whose books balance: A succeeded on fal; B succeeded on fal after Replicate failed;
    C failed (fal canceled, quota returned); D succeeded and E is the same request answered from D;
    F succeeded on Replicate after fal billed an image too small to use; G succeeded on fal after a
    first fal request whose answer was lost (booked as unknown at its price, without an id)."""

    jobs: dict[str, GenerationJob]
    requests: list[ProviderRequest]
    keys: dict[str, str]  # stored object of each succeeded job's image
    request_ids: dict[str, str]  # the request each job succeeded (or ended) with
    s3: object

    def check(self):
        exists = s3_object_exists(endpoint_url=self.s3.meta.endpoint_url, bucket=PRIVATE_BUCKET, access_key=S3_KEY_ID, secret_key=S3_SECRET)
        return books_check(job_ids=[str(job.pk) for job in self.jobs.values()], provider_requests=self.requests, object_exists=exists)

    def request(self, name: str) -> ProviderRequest:
        return next(request for request in self.requests if request.id == self.request_ids[name])


@pytest.fixture
def s3(services):
    return boto3.client(
        "s3", endpoint_url=services.s3.url, region_name="us-east-1", aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET
    )


@pytest.fixture
def scene(s3) -> Scene:
    user = user_create(username="books", email="books@example.com", password="a-long-password-1")
    jobs, requests, keys, request_ids = {}, [], {}, {}

    def job(name: str, status: str, *, units: int = 1, refunded: bool = False, reused_from=None, prompt: str = "") -> GenerationJob:
        prompt = prompt or f"A portrait for the books, job {name} {uuid.uuid4().hex[:6]}"
        jobs[name] = GenerationJob.objects.create(
            user=user, prompt=prompt, status=status, size=1024, quota_units=units, quota_refunded=refunded, reused_from=reused_from
        )
        return jobs[name]

    def call(job: GenerationJob, provider: str, outcome: str, state: str, *, cost: str = "0") -> str:
        request_id = f"{provider}-{uuid.uuid4()}"
        CostEntry.objects.create(job=job, provider=provider, model="m", request_id=request_id, outcome=outcome, cost_usd=Decimal(cost))
        requests.append(ProviderRequest(provider, request_id, job.prompt, state, billable=state == "completed"))
        return request_id

    def image(job: GenerationJob, key: str) -> None:
        GeneratedImage.objects.create(
            job=job, index=0, width=1024, height=1024, variants=[{"size": 1024, "format": "jpeg", "key": key, "bytes": 3}], provider="fal",
            model="m", seed=1, prompt=job.prompt,
        )  # fmt: skip

    for name in ("A", "B", "D", "F", "G"):
        keys[name] = f"generated/books-{uuid.uuid4().hex}.jpg"
        s3.put_object(Bucket=PRIVATE_BUCKET, Key=keys[name], Body=b"jpg")
    a = job("A", "succeeded")
    request_ids["A"] = call(a, "fal", "succeeded", "completed", cost="0.003")
    image(a, keys["A"])
    b = job("B", "succeeded")
    call(b, "replicate", "failed", "failed")
    request_ids["B"] = call(b, "fal", "succeeded", "completed", cost="0.025")
    image(b, keys["B"])
    c = job("C", "failed", refunded=True)
    request_ids["C"] = call(c, "fal", "canceled", "canceled")
    d = job("D", "succeeded")
    request_ids["D"] = call(d, "fal", "succeeded", "completed", cost="0.003")
    image(d, keys["D"])
    e = job("E", "succeeded", units=0, reused_from=d, prompt=d.prompt)
    image(e, keys["D"])
    f = job("F", "succeeded")
    request_ids["F-fal"] = call(f, "fal", "failed", "completed", cost="0.003")  # billed, 64 px: unusable
    request_ids["F"] = call(f, "replicate", "succeeded", "completed", cost="0.025")
    image(f, keys["F"])
    g = job("G", "succeeded")
    request_ids["G-lost"] = f"fal-{uuid.uuid4()}"
    CostEntry.objects.create(job=g, provider="fal", model="m", outcome="unknown", cost_usd=Decimal("0.003"))
    requests.append(ProviderRequest("fal", request_ids["G-lost"], g.prompt, "completed", billable=True))
    request_ids["G"] = call(g, "fal", "succeeded", "completed", cost="0.003")
    image(g, keys["G"])
    return Scene(jobs, requests, keys, request_ids, s3)


def test_books_of_a_balanced_state_balance(scene):
    books = scene.check()

    assert books.balanced, books.summary()
    assert (books.jobs, books.final, books.succeeded, books.failed, books.requests) == (7, 7, 6, 1, 9)
    assert not any(getattr(books, name) for name in IMBALANCES)


def _pending_line(scene: Scene) -> None:
    CostEntry.objects.filter(job=scene.jobs["A"]).update(outcome="pending")


def _request_without_a_line(scene: Scene) -> None:
    scene.requests.append(ProviderRequest("fal", f"fal-{uuid.uuid4()}", scene.jobs["C"].prompt, "failed", billable=False))


def _paid_twice(scene: Scene) -> None:
    """A second request for A that the provider billed and delivered (booked, so not unbooked: as
    the reconciler books a duplicate that finished after its job had ended)."""
    extra = f"fal-{uuid.uuid4()}"
    CostEntry.objects.create(
        job=scene.jobs["A"], provider="fal", model="m", request_id=extra, outcome="canceled", cost_usd=Decimal("0.003")
    )
    scene.requests.append(ProviderRequest("fal", extra, scene.jobs["A"].prompt, "completed", billable=True))


def _lost_request_not_booked_as_unknown(scene: Scene) -> None:
    CostEntry.objects.filter(job=scene.jobs["G"], outcome="unknown").delete()


def _identical_request_charged_twice(scene: Scene) -> None:
    GenerationJob.objects.filter(pk=scene.jobs["E"].pk).update(quota_units=1)


def _failed_job_kept_its_quota(scene: Scene) -> None:
    GenerationJob.objects.filter(pk=scene.jobs["C"].pk).update(quota_refunded=False)


def _job_left_running(scene: Scene) -> None:
    GenerationJob.objects.filter(pk=scene.jobs["B"].pk).update(status="running")


def _billed_request_booked_at_zero(scene: Scene) -> None:
    CostEntry.objects.filter(request_id=scene.request_ids["A"]).update(cost_usd=0)


def _request_left_running_at_the_provider(scene: Scene) -> None:
    scene.requests[scene.requests.index(scene.request("C"))] = replace(scene.request("C"), state="running")


def _line_naming_a_request_never_made(scene: Scene) -> None:
    CostEntry.objects.create(job=scene.jobs["C"], provider="fal", model="m", request_id="fal-never-created", outcome="failed")


def _stored_file_missing(scene: Scene) -> None:
    scene.s3.delete_object(Bucket=PRIVATE_BUCKET, Key=scene.keys["B"])


def _failed_job_holds_an_image(scene: Scene) -> None:
    image = GeneratedImage.objects.get(job=scene.jobs["A"])
    image.pk, image.job = None, scene.jobs["C"]
    image.save()


def _smaller_than_asked(scene: Scene) -> None:
    GeneratedImage.objects.filter(job=scene.jobs["A"]).update(width=64, height=64)


@pytest.mark.parametrize(
    ("breakage", "found_as"),
    [
        (_pending_line, "unsettled"),
        (_request_without_a_line, "unbooked"),
        (_paid_twice, "double_paid"),
        (_lost_request_not_booked_as_unknown, "unbooked"),
        (_identical_request_charged_twice, "quota_off"),
        (_failed_job_kept_its_quota, "quota_off"),
        (_job_left_running, "stuck"),
        (_billed_request_booked_at_zero, "unpriced"),
        (_request_left_running_at_the_provider, "left_running"),
        (_line_naming_a_request_never_made, "phantom_lines"),
        (_stored_file_missing, "images_wrong"),
        (_failed_job_holds_an_image, "images_wrong"),
        (_smaller_than_asked, "wrong_size"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else value,
)
def test_books_find_each_way_of_unbalancing_them(scene, breakage: Callable[[Scene], None], found_as: str):
    breakage(scene)

    books = scene.check()

    assert not books.balanced
    assert getattr(books, found_as) == 1, books.summary()
    assert any(problem.startswith(f"{found_as}:") for problem in books.problems)
