"""The local generator as the gallery's demo drawer (settings.GALLERY_DEMO_DRAWER): gallery draws its
demo library through this adapter, loaded by its dotted path, and never imports generation."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .providers.base import GenerationRequest, Provider
from .providers.local import STYLE_LABELS, STYLES, LocalProvider


@dataclass(frozen=True)
class DemoPicture:
    """A gallery.demo.DemoPicture: the image's bytes and what the generator says it drew."""

    data: bytes
    metadata: Mapping


class LocalDemoDrawer:
    """Draws with the local generator (or, in tests, another provider with its contract)."""

    styles: Sequence[str] = STYLES
    style_labels: Mapping[str, str] = STYLE_LABELS

    def __init__(self, provider: Provider | None = None) -> None:
        self.provider = provider or LocalProvider()
        self.model = getattr(self.provider, "model", "")

    def draw(self, *, prompt: str, style: str, seed: int, size: int) -> DemoPicture:
        result = self.provider.generate(GenerationRequest(prompt=prompt, style=style, seed=seed, size=size))
        return DemoPicture(data=result.images[0].data, metadata=result.metadata or {})
