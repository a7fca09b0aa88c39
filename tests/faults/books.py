"""The books check of the fault suite: after a case, do the job rows, the cost ledger, the stored
images and what the provider fakes received agree?

Promises checked: every job final; quota used = jobs succeeded (an identical
request charged once); one settled ledger line per provider request the fakes received, and no
request without one; a request the provider bills is booked with its cost; none left running at a
provider; one stored image set per succeeded job (rows, and the objects in the bucket) and none for
the others; delivered sizes = requested.

Provider requests are matched to ledger lines by (provider, request id), and to jobs by their prompt
(each case gives every request a prompt of its own; identical requests share one, and are one
"request" for the quota and for paying).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

# The counts that must be zero for the books to balance.
IMBALANCES = (
    "stuck",
    "quota_off",
    "double_paid",
    "unbooked",
    "unsettled",
    "unpriced",
    "left_running",
    "phantom_lines",
    "images_wrong",
    "wrong_size",
)


@dataclass(frozen=True)
class ProviderRequest:
    """One request a provider fake created (from its `/_fake/stats`)."""

    provider: str
    id: str
    prompt: str
    state: str  # running | completed | failed | canceled
    billable: bool
    polls: int = 0
    results: int = 0
    cancels: int = 0

    @classmethod
    def from_stats(cls, stats: dict) -> list["ProviderRequest"]:
        return [
            cls(
                provider=stats["provider"],
                id=item["id"],
                prompt=item.get("prompt") or "",
                state=item["state"],
                billable=bool(item["billable"]),
                polls=item.get("polls", 0),
                results=item.get("results", 0),
                cancels=item.get("cancels", 0),
            )
            for item in stats["requests"]
        ]


@dataclass
class Books:
    """What the check found: counts (IMBALANCES must all be 0) and one line per finding."""

    jobs: int = 0
    final: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    requests: int = 0  # provider requests created for these jobs (and any nobody can place)
    stuck: int = 0  # jobs not final
    quota_off: int = 0  # requests whose quota charged is not what their success calls for
    double_paid: int = 0  # requests a provider billed more than once
    unbooked: int = 0  # provider requests without a ledger line
    unsettled: int = 0  # ledger lines still pending
    unpriced: int = 0  # requests a provider bills whose line says $0
    left_running: int = 0  # provider requests still running that nobody waits for (the jobs ended)
    phantom_lines: int = 0  # ledger lines naming a request the provider never created
    images_wrong: int = 0  # jobs without exactly their image set (or ended jobs with images), objects missing
    wrong_size: int = 0  # stored images whose size is not the size asked for
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not any(getattr(self, name) for name in IMBALANCES)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("jobs", "final", "succeeded", "failed", "canceled", "requests", *IMBALANCES)}

    def add(self, name: str, problem: str) -> None:
        setattr(self, name, getattr(self, name) + 1)
        self.problems.append(f"{name}: {problem}")

    def summary(self) -> str:
        counts = " ".join(f"{name}={value}" for name, value in self.counts().items())
        return counts + "".join(f"\n  - {problem}" for problem in self.problems)


def prompt_key(prompt: str) -> str:
    """Prompts as the site stores them (whitespace collapsed), case-insensitively."""
    return " ".join(prompt.split()).lower()


def books_check(
    *,
    job_ids: Iterable[str],
    provider_requests: list[ProviderRequest],
    object_exists: Callable[[str], bool],
    providers: tuple[str, ...] = ("fal", "replicate"),
    db: str = "default",
) -> Books:
    """Check the books of these jobs against what the providers (`providers`: the fakes read)
    received; `object_exists(key)` says whether the private bucket holds a key; `db`: the
    database alias to read."""
    from generation.models import CostEntry, GeneratedImage, GenerationJob

    books = Books()
    jobs = list(GenerationJob.objects.using(db).filter(pk__in=list(job_ids)).order_by("created_at"))
    by_prompt: dict[str, list] = defaultdict(list)
    for job in jobs:
        by_prompt[prompt_key(job.prompt)].append(job)
    books.jobs = len(jobs)
    terminal = set(GenerationJob.TERMINAL_STATUSES)
    for job in jobs:
        if job.status in terminal:
            books.final += 1
            setattr(books, job.status, getattr(books, job.status) + 1)
        else:
            books.add("stuck", f"job {job.pk} is still {job.status} ({job.message!r}, runs={job.runs})")

    # Quota: per request (identical requests are one), the units of one success, or none.
    for prompt, group in by_prompt.items():
        if any(job.status not in terminal for job in group):
            continue  # counted as stuck
        charged = sum(job.quota_units for job in group if not job.quota_refunded)
        expected = max(job.num_images for job in group) if any(job.status == "succeeded" for job in group) else 0
        if charged != expected:
            ids = ", ".join(f"{job.pk} {job.status} units={job.quota_units} refunded={job.quota_refunded}" for job in group)
            books.add("quota_off", f"{charged} unit(s) charged where {expected} are due for {prompt[:50]!r}: {ids}")

    # The ledger against the providers.
    lines = list(CostEntry.objects.using(db).filter(job__in=jobs).select_related("job"))
    known = {(line.provider, line.request_id): line for line in CostEntry.objects.using(db).exclude(request_id="")}
    for line in lines:
        if line.outcome == CostEntry.Outcome.PENDING:
            request = line.request_id or "not yet known"
            books.add("unsettled", f"{line.provider} line {line.pk} of job {line.job_id} is pending (request {request})")
    ours = [request for request in provider_requests if prompt_key(request.prompt) in by_prompt]
    books.requests = len(ours)
    billed: dict[str, list[ProviderRequest]] = defaultdict(list)
    # A line booked as `unknown` (sent, its answer lost, the provider cannot be asked) stands for one
    # request of that provider for that job's prompt that no line names.
    unknown: dict[tuple[str, str], int] = defaultdict(int)
    for line in lines:
        if line.outcome == CostEntry.Outcome.UNKNOWN and not line.request_id:
            unknown[(line.provider, prompt_key(line.job.prompt))] += 1
    for request in provider_requests:
        line = known.get((request.provider, request.id))
        if line is None and unknown[(request.provider, prompt_key(request.prompt))] > 0:
            unknown[(request.provider, prompt_key(request.prompt))] -= 1
            continue
        if line is None:  # whoever made it: a request nobody booked is unbooked
            books.add("unbooked", f"{request.provider} request {request.id} ({request.state}) has no ledger line")
            books.requests += request not in ours
        elif line.outcome != CostEntry.Outcome.PENDING and request.billable and line.cost_usd <= Decimal(0):
            books.add("unpriced", f"{request.provider} request {request.id} was billed but its line {line.pk} says ${line.cost_usd}")
        if request.state == "running":
            books.add("left_running", f"{request.provider} request {request.id} is still running at the provider")
        # A billed request whose output could not be used (too small, not an image) is booked as a
        # failure at its cost: a known loss before the next provider was asked, not a second payment.
        unusable = line is not None and line.outcome == CostEntry.Outcome.FAILED and line.cost_usd > 0
        if request.billable and request in ours and not unusable:
            billed[prompt_key(request.prompt)].append(request)
    for prompt, requests in billed.items():
        if len(requests) > 1:
            ids = ", ".join(f"{request.provider} {request.id}" for request in requests)
            books.add("double_paid", f"{len(requests)} billed requests for {prompt[:50]!r}: {ids}")
    created = {(request.provider, request.id) for request in provider_requests}
    for line in lines:
        if line.request_id and line.provider in providers and (line.provider, line.request_id) not in created:
            books.add("phantom_lines", f"{line.provider} line {line.pk} names request {line.request_id}, never created there")

    # Stored images: one set per succeeded job, none for the others, at the size asked for.
    images: dict = defaultdict(list)
    for image in GeneratedImage.objects.using(db).filter(job__in=jobs):
        images[image.job_id].append(image)
    for job in jobs:
        held = images.get(job.pk, [])
        if job.status == "succeeded":
            if len(held) != job.num_images:
                books.add("images_wrong", f"job {job.pk} succeeded with {len(held)} image(s) of {job.num_images}")
        elif held and job.status in terminal:
            books.add("images_wrong", f"job {job.pk} {job.status} but holds {len(held)} image(s)")
        for image in held:
            if (image.width, image.height) != (job.size, job.size):
                books.add("wrong_size", f"job {job.pk} asked for {job.size} px and got {image.width}x{image.height}")
            missing = [variant["key"] for variant in image.variants if not object_exists(variant["key"])]
            if missing or not image.variants:
                books.add("images_wrong", f"job {job.pk} image {image.index}: {len(missing)} of {len(image.variants)} file(s) not stored")
    return books


def s3_object_exists(*, endpoint_url: str, bucket: str, access_key: str, secret_key: str) -> Callable[[str], bool]:
    """`object_exists` for a bucket of an S3 server, read directly (not through a proxy a case may cut)."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client(
        "s3", endpoint_url=endpoint_url, region_name="us-east-1", aws_access_key_id=access_key, aws_secret_access_key=secret_key
    )

    def exists(key: str) -> bool:
        try:
            client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    return exists
