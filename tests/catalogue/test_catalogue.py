"""The provider catalogue as data: the settings catalogue becomes rows with nothing lost, keys stay
in the environment, the admin refuses what could not be built, and a change saved in the admin
reaches a running worker's next job with no restart."""

import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.forms.models import model_to_dict
from django.utils.module_loading import import_string

from avatarsite.accounts.services import user_create
from catalogue.models import ImageModel, ImageProvider
from catalogue.selectors import provider_configs
from catalogue.services import catalogue_import
from generation.models import CostEntry, GenerationJob
from generation.providers.registry import entry_get, provider_build, provider_get
from generation.services import generation_job_create
from tests.fakes.fal import FakeFal
from tests.fakes.replicate import FakeReplicate
from tests.support.processes import running
from tests.support.workers import log_tail, wait_for, worker_args, worker_env

CATALOGUE = "catalogue.selectors.provider_configs"
DEFAULT_SIDES = (256, 512, 1024)


@pytest.fixture
def from_rows(settings):
    """The registry reads the catalogue's rows (the site's default; the suite's is settings)."""
    settings.GENERATION_PROVIDER_CATALOGUE = CATALOGUE
    settings.CATALOGUE_REFRESH_SECONDS = 0
    ImageProvider.objects.all().delete()


def _adapter(config):
    return import_string(config["BACKEND"])(**config["OPTIONS"])


@pytest.mark.django_db
def test_the_settings_catalogue_becomes_rows_that_build_the_same_adapters(settings, from_rows):
    """Every provider and model of the shipped catalogue, as rows, builds an adapter with the same
    address, timeout, output hosts, sizes, prices and licences as the settings entry it came from."""
    import_settings = import_string("catalogue.migrations.0002_import_settings_catalogue.import_settings_catalogue")
    import_settings(apps, None)  # the data migration itself

    configs = provider_configs(fresh=True)
    assert sorted(configs) == sorted(settings.GENERATION_PROVIDERS)
    compared = 0
    for name, original in settings.GENERATION_PROVIDERS.items():
        before, after = _adapter(original), _adapter(configs[name])
        assert type(before) is type(after)
        for attribute in ("api_url", "max_wait", "output_policy"):
            assert getattr(before, attribute, None) == getattr(after, attribute, None), (name, attribute)
        for model, options in (original["OPTIONS"].get("models") or {}).items():
            if not model:
                continue
            assert before.max_side(model) == after.max_side(model), (name, model)
            assert [before.native_size(model, side) for side in DEFAULT_SIDES] == [after.native_size(model, side) for side in DEFAULT_SIDES]
            if hasattr(before, "cost"):
                assert before.cost(model, width=1024, height=1024, count=2) == pytest.approx(
                    after.cost(model, width=1024, height=1024, count=2)
                ), (name, model)
            row = after.models[model]
            assert (row["licence"], row["commercial_use"]) == (options["licence"], options["commercial_use"])
            compared += 1
    assert compared >= 20  # fal, Replicate, OpenAI, Together, Stability ... all their models


@pytest.mark.django_db
def test_keys_stay_in_the_environment_and_each_process_reads_its_own(settings, from_rows, monkeypatch):
    secret = "sk-live-never-in-the-database"
    providers = {
        "fal": {**settings.GENERATION_PROVIDERS["fal"], "OPTIONS": {**settings.GENERATION_PROVIDERS["fal"]["OPTIONS"], "api_key": secret}}
    }
    catalogue_import(providers=providers)

    stored = json.dumps(
        [model_to_dict(row) for row in ImageProvider.objects.all()] + [model_to_dict(row) for row in ImageModel.objects.all()], default=str
    )
    assert secret not in stored
    assert ImageProvider.objects.get(name="fal").key_env == "FAL_KEY"
    monkeypatch.delenv("FAL_KEY", raising=False)
    assert provider_get("fal") is None  # no key here: not set up
    monkeypatch.setenv("FAL_KEY", "key-from-the-environment")
    ImageProvider.objects.get(name="fal").save()  # any change reloads
    assert provider_get("fal").api_key == "key-from-the-environment"


@pytest.mark.django_db
def test_a_provider_or_model_switched_off_is_skipped_from_the_next_read(settings, from_rows, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "k")
    catalogue_import(providers={"fal": settings.GENERATION_PROVIDERS["fal"], "local": settings.GENERATION_PROVIDERS["local"]})
    assert entry_get("fal:fal-ai/flux/schnell") is not None

    ImageModel.objects.filter(model_id="fal-ai/flux/schnell").update(enabled=False)
    ImageModel.objects.get(model_id="fal-ai/flux/schnell").save()
    assert entry_get("fal:fal-ai/flux/schnell") is None
    assert entry_get("fal:fal-ai/flux/dev") is not None
    assert provider_build("fal").max_side("fal-ai/flux/schnell") == 1024  # still described: its images' sizes

    ImageProvider.objects.filter(name="fal").update(enabled=False)
    ImageProvider.objects.get(name="fal").save()
    assert provider_build("fal") is None
    assert entry_get("fal:fal-ai/flux/dev") is None


def _change_form(provider: ImageProvider, **changes) -> dict:
    """The admin change form of `provider` as a browser posts it, with `changes`."""
    data = {key: value for key, value in model_to_dict(provider).items() if key != "id"}
    data.update(changes)
    data["output_hosts"], data["options"] = json.dumps(data["output_hosts"]), json.dumps(data["options"])
    models = list(provider.models.all())
    data.update(
        {"models-TOTAL_FORMS": len(models), "models-INITIAL_FORMS": len(models), "models-MIN_NUM_FORMS": 0, "models-MAX_NUM_FORMS": 1000}
    )
    for index, model in enumerate(models):
        for key, value in model_to_dict(model).items():
            if isinstance(value, (list, dict)):
                value = json.dumps(value)
            data[f"models-{index}-{key}"] = value
    return {key: ("" if value is None else value) for key, value in data.items() if value is not False}


@pytest.fixture
def operator(client, django_user_model):
    staff = django_user_model.objects.create_user("operator", "ops@example.com", "a-long-password-1", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_the_admin_refuses_a_provider_that_could_not_be_built_or_a_key_in_its_options(settings, from_rows, operator):
    catalogue_import(providers={"fal": settings.GENERATION_PROVIDERS["fal"]})
    fal = ImageProvider.objects.get(name="fal")
    url = f"/admin/catalogue/imageprovider/{fal.pk}/change/"
    assert operator.get(url).status_code == 200

    cases = [
        ({"adapter": "generation.providers.nowhere.Provider"}, "No adapter class"),
        ({"options": {"api_key": "sk-123"}}, "Keys are never stored here"),
        ({"options": {"not_an_option": 1}}, "cannot be built"),
        ({"key_env": "fal key"}, "environment variable"),
    ]
    for changes, words in cases:
        response = operator.post(url, _change_form(fal, **changes))
        assert response.status_code == 200, changes  # the form again, with its error
        assert words in response.content.decode(), changes
    fal.refresh_from_db()
    assert (fal.adapter, fal.options, fal.key_env) == ("generation.providers.fal.FalProvider", {"poll_interval": 0.5}, "FAL_KEY")

    model = fal.models.get(model_id="fal-ai/flux/schnell")
    form = _change_form(fal)
    index = list(fal.models.all()).index(model)
    form[f"models-{index}-side_step"] = 48  # 1024 is no multiple of 48
    assert "must be a multiple of the step" in operator.post(url, form).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_change_saved_in_the_admin_routes_a_running_workers_next_job_with_no_restart(
    settings, from_rows, operator, monkeypatch, artifacts_dir
):
    """One worker runs throughout. Job 1 goes to fal at address A; the operator moves fal to address B
    in the admin: job 2 goes to B. The operator switches fal off: job 3 goes to Replicate."""
    first, second, replicate = FakeFal(latency=0.1).start(), FakeFal(latency=0.1).start(), FakeReplicate(latency=0.1).start()
    try:
        monkeypatch.setenv("FAL_KEY", first.api_key)
        monkeypatch.setenv("REPLICATE_API_TOKEN", replicate.api_key)
        shipped = settings.GENERATION_PROVIDERS
        catalogue_import(
            providers={
                "local": shipped["local"],
                "fal": {**shipped["fal"], "OPTIONS": {**shipped["fal"]["OPTIONS"], "api_url": first.url, "output_hosts": ["127.0.0.1"]}},
                "replicate": {
                    **shipped["replicate"],
                    "OPTIONS": {**shipped["replicate"]["OPTIONS"], "api_url": replicate.url, "output_hosts": ["127.0.0.1"]},
                },
            }
        )
        user = user_create(username="chooser", email="chooser@example.com", password="a-long-password-1")
        env = worker_env(  # The interval is long: what applies the change is the run's own look before it starts.
            GENERATION_PROVIDER_CATALOGUE=CATALOGUE,
            CATALOGUE_REFRESH_SECONDS="600",
            FAL_KEY=first.api_key,
            REPLICATE_API_TOKEN=replicate.api_key,
        )
        log = artifacts_dir / "catalogue-worker.log"

        def generate(prompt: str) -> GenerationJob:
            job = generation_job_create(user_id=user.pk, prompt=prompt, size=256)
            wait_for(
                lambda: GenerationJob.objects.filter(pk=job.pk, status__in=GenerationJob.TERMINAL_STATUSES).exists(),
                timeout=60,
                what=f"{prompt!r} to finish",
            )
            job.refresh_from_db()
            assert job.status == "succeeded", log_tail(log)
            return job

        with running(worker_args("standard", name="catalogue"), env=env, log=log):
            one = generate("A lighthouse keeper with a grey beard")
            fal = ImageProvider.objects.get(name="fal")
            assert (
                operator.post(f"/admin/catalogue/imageprovider/{fal.pk}/change/", _change_form(fal, base_url=second.url)).status_code == 302
            )
            two = generate("A gardener with a straw hat")
            response = operator.post("/admin/catalogue/imageprovider/", {"action": "switch_off", "_selected_action": [fal.pk]})
            assert response.status_code == 302
            three = generate("A pilot with round goggles")

        calls = [list(CostEntry.objects.filter(job=job).values_list("provider", "outcome")) for job in (one, two, three)]
        assert calls == [[("fal", "succeeded")], [("fal", "succeeded")], [("replicate", "succeeded")]], log_tail(log)
        assert (first.submissions, second.submissions, replicate.submissions) == (1, 1, 1)
    finally:
        for fake in (first, second, replicate):
            fake.stop()


def test_prices_keep_their_units():
    from catalogue.conversion import model_options, rows_from_settings

    rows = rows_from_settings(
        {
            "stability": {
                "BACKEND": "x.Y",
                "OPTIONS": {"usd_per_credit": 0.01, "models": {"core": {"credits": 3, "licence": "", "commercial_use": True}}},
            },
            "runpod": {"BACKEND": "x.Y", "OPTIONS": {"models": {"flux": {"cost_per_gpu_second": 0.00034}}}},
        }
    )
    core, flux = rows[0].models[0], rows[1].models[0]
    assert (core.price_unit, core.price_usd) == ("image", Decimal("0.03"))
    assert (flux.price_unit, flux.price_usd) == ("gpu_second", Decimal("0.00034"))
    assert model_options(core)["cost_per_image"] == 0.03
    assert "credits" not in model_options(core)


@pytest.mark.django_db
def test_catalogue_import_adds_only_missing_providers_unless_told_to_replace(settings, from_rows):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    catalogue_import(providers={"fal": settings.GENERATION_PROVIDERS["fal"]})
    ImageProvider.objects.filter(name="fal").update(base_url="https://fal.example.test")  # the operator's edit
    out = StringIO()
    call_command("catalogue_import", stdout=out)
    assert ImageProvider.objects.get(name="fal").base_url == "https://fal.example.test"
    assert set(ImageProvider.objects.values_list("name", flat=True)) == set(settings.GENERATION_PROVIDERS)
    assert "fal" not in out.getvalue().split("Written:", 1)[1]

    call_command("catalogue_import", replace=["fal"], stdout=StringIO())
    assert ImageProvider.objects.get(name="fal").base_url == settings.GENERATION_PROVIDERS["fal"]["OPTIONS"]["api_url"]
    with pytest.raises(CommandError, match="Not in the settings catalogue: nowhere"):
        call_command("catalogue_import", replace=["nowhere"])
