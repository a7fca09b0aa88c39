"""Generation jobs: the row is the truth about a job; websockets only notify."""

import uuid

from django.conf import settings
from django.db import models


class ErrorKind(models.TextChoices):
    """Why a job or a provider call failed. The services write it, the pages and the API read it back;
    the providers' errors carry the same strings in `ProviderError.kind` (providers import no models)."""

    TRANSIENT = "transient", "Transient"  # the service was busy or unreachable: trying later may work
    PERMANENT = "permanent", "Permanent"  # the service will not do this request
    REFUSED = "refused", "Refused"  # the service judged the content unsafe
    CANCELED = "canceled", "Canceled"
    TIMEOUT = "timeout", "Timed out"  # the job waited longer than its lane allows
    LOST = "lost", "Lost"  # the runs kept dying on this job


class GenerationJob(models.Model):
    """One request for a custom avatar, from acceptance to its end state."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    TERMINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_jobs")
    prompt = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    # What was asked, normalised; request_key hashes it (with the model chain) to find reusable results.
    style = models.CharField(max_length=16, default="photo")
    size = models.PositiveIntegerField(default=1024)
    seed = models.BigIntegerField(default=0)
    num_images = models.PositiveSmallIntegerField(default=1)
    request_key = models.CharField(max_length=64, blank=True, db_index=True)
    # The lane, from the user's plan when the job was accepted.
    plan = models.CharField(max_length=32, blank=True)
    queue = models.CharField(max_length=32, blank=True)
    priority = models.PositiveSmallIntegerField(default=5)
    provider_chain = models.JSONField(default=list, blank=True)
    # Why the job is made otherwise than asked (this month's AI budget is spent: the local generator
    # draws it), kept with the job so that its end message still says so.
    notice = models.CharField(max_length=255, blank=True)
    # Quota units taken at acceptance; refunded (once) when the job ends without a charge.
    quota_units = models.PositiveSmallIntegerField(default=0)
    quota_refunded = models.BooleanField(default=False)
    # The job whose result this one took: a stored result (the job is then finished at once), or an
    # identical request still in flight, which this one waits for (it stays queued until that ends).
    reused_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error_kind = models.CharField(max_length=16, blank=True, choices=ErrorKind.choices, help_text="Why it failed, on failure.")
    # Times a worker started this job; a message that keeps killing workers stops after a few.
    runs = models.PositiveSmallIntegerField(default=0)
    # The run that owns the job: claiming it takes a token with an expiry, renewed while the run
    # lives; every later write of that run is conditional on the token. A second delivery of its
    # message finds the lease held and runs nothing; a dead run's lease expires and the next
    # delivery resumes its provider request.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When its last job_run message was sent: the reconciler sends another for a queued job whose
    # message is gone (a broker outage, a task acknowledged without running).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # A succeeded job whose other sizes and formats are still to be made (job_images_finish).
    images_pending = models.BooleanField(default=False)
    # An API job's completion webhook: where to POST the job when it ends, signed with the key's secret.
    webhook_url = models.URLField(max_length=2000, blank=True)
    api_key = models.ForeignKey("billing.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The reconciler settles a job unfinished then (queued: wait limit; running: run limit).",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="generation_job_progress_at_most_100"),
            # Single flight: one job per request key is in flight at a time; an identical request made
            # meanwhile follows it (reused_from) and gets its result at no cost.
            models.UniqueConstraint(
                fields=["request_key"],
                condition=models.Q(status__in=["queued", "running"], reused_from__isnull=True) & ~models.Q(request_key=""),
                name="generation_job_one_in_flight_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def group_name(self) -> str:
        """The channel-layer group that the job's websocket clients join."""
        return f"job-{self.id}"


class GeneratedImage(models.Model):
    """One result image of a job, stored privately in its variants, with its provenance."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # [{"size": 256, "format": "webp", "key": "...", "bytes": 1234}, ...] in the private storage.
    variants = models.JSONField(default=list)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    model_version = models.CharField(max_length=100, blank=True)
    seed = models.BigIntegerField()
    prompt = models.TextField()
    licence_note = models.CharField(max_length=200, blank=True)
    content_rating = models.CharField(max_length=16, default="general")
    # The side the model delivered when it was below the size asked for (the image was then upscaled).
    upscaled_from = models.PositiveIntegerField(null=True, blank=True)
    # What was applied, beside what the job asked: {"style", "model", "size" (the side the model
    # made), "drawn" and "not_understood" (the local generator's reading of the prompt; empty for AI
    # models), "attributes" (what the local generator drew)}. Empty for images made before it was kept.
    applied = models.JSONField(default=dict, blank=True)
    # Our own classifier's P(nsfw) for it before it was stored (GENERATION_NSFW_CLASSIFIER); null: not scored.
    nsfw_score = models.FloatField("NSFW score", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="generation_image_unique_per_job")]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.index}"


class CostEntry(models.Model):
    """One provider call, opened before the call and settled once: the job's attempt history and
    the cost ledger in one row, so spend can be summed by day, provider and plan.

    A call opened by a worker that died stays `pending` with the provider's request id: the next
    run (or the reconciler) resumes that request instead of paying for a new one.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"
        CANCELED = "canceled", "Canceled"
        # Sent, and no way to learn what became of it (its answer was lost, and the provider cannot
        # be asked): booked at the model's price, as the provider may have billed it.
        UNKNOWN = "unknown", "Outcome unknown"

    # None for an operator's "try it" call from the admin's provider health page (plan "try-it"):
    # a real, billed call that belongs to no job.
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="cost_entries", null=True, blank=True)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    plan = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=100, blank=True, help_text="The provider's id of the request, once it gave one.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    error_kind = models.CharField(max_length=16, blank=True, choices=ErrorKind.choices)
    error = models.CharField(max_length=255, blank=True)
    images = models.PositiveSmallIntegerField(default=0)
    megapixels = models.DecimalField(max_digits=8, decimal_places=3, default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=5, default=0)
    # What the call was expected to cost when it was opened: a pending line counts at this much
    # against the month's budget (generation.budget), so concurrent jobs see each other's calls.
    expected_usd = models.DecimalField(max_digits=10, decimal_places=5, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "provider call"
        constraints = [
            # One provider request is one charge, however many runs saw it.
            models.UniqueConstraint(
                fields=["provider", "request_id"], condition=~models.Q(request_id=""), name="generation_cost_one_row_per_provider_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.outcome} ${self.cost_usd}"


class ApiIdempotencyKey(models.Model):
    """An `Idempotency-Key` an API client sent with a job request: the same key with the same body
    returns the job it created; with another body it is a conflict. One per (user, key)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request's normalised body.")
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API idempotency key"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="generation_idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class WebhookDelivery(models.Model):
    """The completion webhook of one API job: its id is the delivery id the receiver sees on every attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField(GenerationJob, on_delete=models.CASCADE, related_name="webhook_delivery")
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField(help_text="No attempt after this (a day after the job ended, or an operator's retry).")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class QuotaRefusal(models.Model):
    """Requests refused because the plan's quota was spent, counted per UTC day and plan (issue 20:
    the operator's dashboard). A refused request makes no job, so nothing else records it; one row a
    day per plan, raised by one UPDATE."""

    day = models.DateField()
    plan = models.CharField(max_length=32)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "plan"], name="generation_quota_refusal_one_row_per_day_plan")]

    def __str__(self) -> str:
        return f"{self.day} {self.plan}: {self.count}"


class SpendBudget(models.Model):
    """The operator's monthly spend budget (one row, pk 1): alerts at 50/80/100 % of it, an optional
    hard stop above 100 %, and a per-user daily cap. Read and enforced by generation.budget."""

    monthly_usd = models.DecimalField(
        "monthly budget (USD)",
        max_digits=10,
        decimal_places=2,
        default=0,
        help_text="Provider spend per calendar month (UTC); 0 = no budget.",
    )
    hard_stop_free = models.BooleanField(
        "hard stop for free users",
        default=True,
        help_text="Above 100 %, users of free plans get the local generator instead of paid providers (told why).",
    )
    hard_stop_paid = models.BooleanField(
        "hard stop for paying plans too",
        default=False,
        help_text="Above 100 %, premium and enterprise users get the local generator as well (else they go on).",
    )
    user_daily_usd = models.DecimalField(
        "per-user daily cap (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="A user whose provider spend today (UTC) reaches this gets no more paid calls today; empty = no cap.",
    )
    alert_emails = models.TextField(
        blank=True,
        help_text="Who gets the 50/80/100 % alerts: addresses, comma-separated; empty = the setting GENERATION_BUDGET_ALERT_EMAILS.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "spend budget"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="generation_spend_budget_singleton")]

    def __str__(self) -> str:
        return f"${self.monthly_usd} a month" if self.monthly_usd else "no budget"


class SpendAlert(models.Model):
    """One budget threshold crossed in one month: the row is what makes its mail go out once."""

    month = models.DateField(help_text="The first day of the month (UTC).")
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the budget: 50, 80 or 100.")
    budget_usd = models.DecimalField(max_digits=10, decimal_places=2)
    committed_usd = models.DecimalField(max_digits=12, decimal_places=5, help_text="Spent and booked when it was crossed.")
    recipients = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "threshold"]
        constraints = [models.UniqueConstraint(fields=["month", "threshold"], name="generation_spend_alert_once_per_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.threshold} %"
