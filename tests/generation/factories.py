"""factory_boy factories of the generation app: jobs, generated images, cost entries."""

import factory

from generation.models import CostEntry, GeneratedImage, GenerationJob
from tests.accounts.factories import UserFactory


class GenerationJobFactory(factory.django.DjangoModelFactory):
    """A job row as it stands, written directly (no quota taken, nothing enqueued): for pages and
    reports that read jobs. A job the pipeline should run is made by `generation_job_create`."""

    class Meta:
        model = GenerationJob

    user = factory.SubFactory(UserFactory)
    prompt = factory.Sequence(lambda n: f"a portrait {n}")


class GeneratedImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GeneratedImage

    job = factory.SubFactory(GenerationJobFactory, status=GenerationJob.Status.SUCCEEDED)
    index = 0
    width = 1024
    height = 1024
    provider = "fal"
    model = "fal-ai/flux/schnell"
    seed = 0
    prompt = factory.SelfAttribute("job.prompt")


class CostEntryFactory(factory.django.DjangoModelFactory):
    """A line of the cost ledger for one provider request of a job (pending unless told)."""

    class Meta:
        model = CostEntry

    job = factory.SubFactory(GenerationJobFactory)
    provider = "fal"
    model = "fal-ai/flux/schnell"
    plan = factory.SelfAttribute("job.plan")
