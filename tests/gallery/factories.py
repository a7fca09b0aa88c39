"""factory_boy factories of the gallery app: sources and avatars."""

import factory
from django.utils import timezone

from gallery.importers.base import RemoteAvatar
from gallery.models import Avatar, Source
from gallery.services import avatar_import_remote, source_get_or_create
from generation.providers.base import GenerationRequest
from generation.providers.local import LocalProvider


class SourceFactory(factory.django.DjangoModelFactory):
    """A source by its slug, as `source_get_or_create` makes it (the known ones with their licence
    defaults); an existing one is fetched unchanged."""

    class Meta:
        model = Source

    slug = "demo"

    @classmethod
    def _create(cls, model_class: type[Source], *, slug: str, **kwargs: object) -> Source:
        return source_get_or_create(slug=slug)


class AvatarFactory(factory.django.DjangoModelFactory):
    """A premade avatar imported as an importer imports one (`avatar_import_remote`: stored variants,
    phash, colours): a small picture the local generator draws from the title and seed, as a demo
    avatar. `download_count` is set on the row afterwards."""

    class Meta:
        model = Avatar

    source = factory.SubFactory(SourceFactory)
    title = factory.Sequence(lambda n: f"Avatar {n}")
    tags = ()
    seed = factory.Sequence(lambda n: n)
    external_id = factory.LazyAttribute(lambda avatar: f"page-test-{avatar.seed}")
    download_count = 0

    @classmethod
    def _create(
        cls,
        model_class: type[Avatar],
        *,
        source: Source,
        title: str,
        tags: tuple[str, ...],
        seed: int,
        external_id: str,
        download_count: int,
    ) -> Avatar:
        drawn = LocalProvider().generate(GenerationRequest(prompt=title, style="flat", seed=seed, size=128))
        remote = RemoteAvatar(external_id=external_id, image_url="", width=128, height=128, title=title, tags=tags)
        avatar_import_remote(source=source, remote=remote, image_bytes=drawn.images[0].data, retrieved_at=timezone.now(), is_demo=True)
        avatar = model_class.objects.get(source=source, external_id=external_id)
        if download_count:
            model_class.objects.filter(pk=avatar.pk).update(download_count=download_count)
            avatar.download_count = download_count
        return avatar
