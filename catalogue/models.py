"""Image providers and their models: what the generation registry builds its adapters from.

Keys never live here: a provider row names the environment variable that holds its key, read by
each process when it builds the adapter.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

ENV_NAME = RegexValidator(r"^[A-Z_][A-Z0-9_]*$", "An environment variable's name: capitals, digits and underscores, e.g. FAL_KEY.")


class ImageProvider(models.Model):
    """One image service, as a plan's chain names it ("<name>:<model>")."""

    name = models.SlugField(max_length=32, unique=True, help_text='What plan chains call it, e.g. "fal" in "fal:fal-ai/flux/schnell".')
    enabled = models.BooleanField(default=True, help_text="Off: no job calls it (chains skip it), from the next job on.")
    adapter = models.CharField(max_length=200, help_text="Dotted path of its adapter class, e.g. generation.providers.fal.FalProvider.")
    key_env = models.CharField(
        max_length=64,
        blank=True,
        validators=[ENV_NAME],
        verbose_name="key variable",
        help_text="The name of the environment variable holding its key (the key itself is never stored here). Empty: no key.",
    )
    base_url = models.CharField(
        max_length=300, blank=True, verbose_name="address", help_text="Its API's address; empty: the adapter's default (the real service)."
    )
    timeout_seconds = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="The longest one call may take; empty: the adapter's default."
    )
    output_hosts = models.JSONField(
        default=list, blank=True, help_text='Hosts its images may be fetched from, e.g. [".fal.media"]; empty: the adapter\'s default.'
    )
    options = models.JSONField(default=dict, blank=True, help_text='The adapter\'s other options (JSON object), e.g. {"prefer_wait": 10}.')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "image provider"

    def __str__(self) -> str:
        return self.name


class ImageModel(models.Model):
    """One model of a provider: what it can deliver, what it costs and what its licence allows."""

    class PriceUnit(models.TextChoices):
        # Each maps to the adapter option its cost is computed from.
        IMAGE = "image", "per image"
        MEGAPIXEL = "megapixel", "per megapixel"
        GPU_SECOND = "gpu_second", "per GPU-second"

    provider = models.ForeignKey(ImageProvider, on_delete=models.CASCADE, related_name="models")
    model_id = models.CharField(max_length=200, help_text='The provider\'s id of the model, e.g. "fal-ai/flux/schnell".')
    enabled = models.BooleanField(default=True, help_text="Off: chains naming it skip it, from the next job on.")
    # Capabilities: what a request to it may ask for.
    max_side = models.PositiveIntegerField(default=1024, help_text="The largest square side (px) it makes.")
    side_step = models.PositiveIntegerField(default=1, help_text="Sides it makes are multiples of this (e.g. 16).")
    aspect_ratios = models.JSONField(default=list, blank=True, help_text='Aspect ratios it makes, e.g. ["1:1", "3:4"]; empty: square only.')
    images_per_call = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)], help_text="Images one call can make.")
    supports_seed = models.BooleanField(default=True, verbose_name="seed", help_text="It takes a seed (same seed, same image).")
    supports_negative_prompt = models.BooleanField(default=False, verbose_name="negative prompt")
    supports_reference_image = models.BooleanField(default=False, verbose_name="reference image")
    # Price: what the provider bills, for the ledger, spend alerts and "cheapest first" routing.
    price_unit = models.CharField(max_length=16, choices=PriceUnit.choices, default=PriceUnit.IMAGE)
    price_usd = models.DecimalField(
        max_digits=10, decimal_places=6, default=0, validators=[MinValueValidator(0)], verbose_name="price (USD)"
    )
    licence = models.CharField(max_length=300, blank=True, help_text="What its licence says about using the images (shown with them).")
    commercial_use = models.BooleanField(default=False, help_text="Its images may be used commercially (the API tells clients).")
    options = models.JSONField(
        default=dict, blank=True, help_text='The adapter\'s other options for it (JSON object), e.g. {"input": {"quality": "medium"}}.'
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "model_id"]
        verbose_name = "image model"
        constraints = [models.UniqueConstraint(fields=["provider", "model_id"], name="catalogue_model_unique_per_provider")]

    def __str__(self) -> str:
        return f"{self.provider.name}:{self.model_id}"

    def clean(self) -> None:
        """The adapter would refuse to build (ModelSizes): said on the form, not by the next job."""
        super().clean()
        if self.max_side and self.side_step and self.max_side % self.side_step:
            raise ValidationError(
                {"side_step": f"The largest side ({self.max_side} px) must be a multiple of the step ({self.side_step})."}
            )
