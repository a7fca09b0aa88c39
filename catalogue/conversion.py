"""Between the two shapes of the catalogue: rows (this app's models) and the adapter configs the
generation registry builds from ({name: {"BACKEND": dotted path, "OPTIONS": {...}}}, the shape of
settings.GENERATION_PROVIDERS). Plain Python: the data migration uses it on historical models."""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Provider options that are columns of their own (api_key is never stored: KEY_ENV names its variable).
_PROVIDER_COLUMNS = {"api_url", "api_key", "output_hosts", "max_wait", "models", "allow_loopback"}
# A model's price, by unit: the adapter option its cost is computed from.
PRICE_OPTIONS = {"image": "cost_per_image", "megapixel": "cost_per_megapixel", "gpu_second": "cost_per_gpu_second"}
_CAPABILITIES = {
    "max_side": ("max_side", 1024),
    "side_step": ("side_step", 1),
    "aspect_ratios": ("aspect_ratios", []),
    "images_per_call": ("images_per_call", 1),
    "supports_seed": ("seed", True),
    "supports_negative_prompt": ("negative_prompt", False),
    "supports_reference_image": ("reference_image", False),
}
_MODEL_COLUMNS = {
    *(option for option, _ in _CAPABILITIES.values()),
    *PRICE_OPTIONS.values(),
    *("licence", "commercial_use", "credits", "enabled"),
}


@dataclass
class ModelRow:
    model_id: str
    max_side: int = 1024
    side_step: int = 1
    aspect_ratios: list[str] = field(default_factory=list)
    images_per_call: int = 1
    supports_seed: bool = True
    supports_negative_prompt: bool = False
    supports_reference_image: bool = False
    price_unit: str = "image"
    price_usd: Decimal = Decimal(0)
    licence: str = ""
    commercial_use: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True


@dataclass
class ProviderRow:
    name: str
    adapter: str
    key_env: str = ""
    base_url: str = ""
    timeout_seconds: float | None = None
    output_hosts: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    models: list[ModelRow] = field(default_factory=list)
    enabled: bool = True


def _price(model: Mapping[str, Any], provider_options: Mapping[str, Any]) -> tuple[str, Decimal]:
    """The model's headline price: per GPU-second, per megapixel or per image (Stability's credits
    become dollars per image at the provider's usd_per_credit)."""
    if "cost_per_gpu_second" in model:
        return "gpu_second", Decimal(str(model["cost_per_gpu_second"]))
    if "cost_per_megapixel" in model:
        return "megapixel", Decimal(str(model["cost_per_megapixel"]))
    if "credits" in model:
        per_credit = Decimal(str(provider_options.get("usd_per_credit", "0.01")))
        return "image", Decimal(str(model["credits"])) * per_credit
    if "cost_per_image" in model:
        return "image", Decimal(str(model["cost_per_image"]))
    if "cost_per_gpu_second" in provider_options:  # A1111: one rate for the server
        return "gpu_second", Decimal(str(provider_options["cost_per_gpu_second"]))
    return "image", Decimal(0)


def rows_from_settings(providers: Mapping[str, Mapping[str, Any]]) -> list[ProviderRow]:
    """settings.GENERATION_PROVIDERS as rows: what the catalogue's first migration writes."""
    rows = []
    for name, config in providers.items():
        options = dict(config.get("OPTIONS", {}))
        row = ProviderRow(
            name=name,
            adapter=config["BACKEND"],
            key_env=config.get("KEY_ENV", ""),
            base_url=options.get("api_url", "") or "",
            timeout_seconds=options.get("max_wait"),
            output_hosts=list(options.get("output_hosts") or []),
            options={key: value for key, value in options.items() if key not in _PROVIDER_COLUMNS},
        )
        for model_id, model in (options.get("models") or {}).items():
            if not model_id:  # a self-hosted server whose model is not named (A1111_MODEL unset)
                continue
            unit, price = _price(model, options)
            capabilities = {column: model.get(option, default) for column, (option, default) in _CAPABILITIES.items()}
            row.models.append(
                ModelRow(
                    model_id=model_id,
                    **capabilities,
                    price_unit=unit,
                    price_usd=price,
                    licence=model.get("licence", ""),
                    commercial_use=bool(model.get("commercial_use", options.get("commercial_use", False))),
                    options={key: value for key, value in model.items() if key not in _MODEL_COLUMNS},
                    enabled=bool(model.get("enabled", True)),
                )
            )
        rows.append(row)
    return rows


def model_options(model: ModelRow) -> dict[str, Any]:
    """A model row as the adapter's catalogue entry ("models": {id: this})."""
    entry = dict(model.options)
    entry.update({option: getattr(model, column) for column, (option, _) in _CAPABILITIES.items()})
    entry[PRICE_OPTIONS[model.price_unit]] = float(model.price_usd)
    # A disabled model stays in the catalogue (its sizes and licence still describe its images)
    # and chains skip it: generation's registry asks `model_enabled`.
    entry.update(licence=model.licence, commercial_use=model.commercial_use, enabled=model.enabled)
    return entry


def config_from_row(row: ProviderRow, *, allow_loopback: bool, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A provider row as its adapter's config. The key is read from the environment variable the
    row names; a row with an address is reached over HTTP under the site's outbound policy
    (`allow_loopback`, site-wide, never per row)."""
    environ = os.environ if environ is None else environ
    options = dict(row.options)
    if row.base_url:
        options["api_url"] = row.base_url
    if row.base_url or row.key_env:
        options["allow_loopback"] = allow_loopback
    if row.key_env:
        options["api_key"] = environ.get(row.key_env, "")
    if row.timeout_seconds:
        options["max_wait"] = row.timeout_seconds
    if row.output_hosts:
        options["output_hosts"] = list(row.output_hosts)
    if row.models:
        options["models"] = {model.model_id: model_options(model) for model in row.models}
    return {"BACKEND": row.adapter, "OPTIONS": options}


def configs_from_rows(rows: Iterable[ProviderRow], *, allow_loopback: bool) -> dict[str, dict[str, Any]]:
    """The enabled providers' configs, by name: a disabled provider is not in it, so no chain reaches it."""
    return {row.name: config_from_row(row, allow_loopback=allow_loopback) for row in rows if row.enabled}
