"""Classifiers a test swaps in through GENERATION_NSFW_CLASSIFIER (the public setting), in place
of open_nsfw: each scores an image's bytes by a plain pixel property."""

import io

from PIL import Image, ImageStat


def brightness(data: bytes) -> float:
    """The image's mean luminance, 0 (black) to 1 (white)."""
    with Image.open(io.BytesIO(data)) as image:
        return ImageStat.Stat(image.convert("L")).mean[0] / 255
