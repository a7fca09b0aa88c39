"""The local procedural generator: deterministic, steered by the prompt, with real progress steps."""

import io

import pytest
from PIL import Image

from generation.providers.base import CallContext, GenerationRequest, PermanentProviderError
from generation.providers.local import STYLES, LocalProvider, avatar_features


def _generate(**params):
    steps = []
    result = LocalProvider().generate(
        GenerationRequest(**{"prompt": "a person", "size": 128, **params}), CallContext(on_progress=lambda p, m: steps.append((p, m)))
    )
    return result, steps


def test_the_same_request_draws_the_same_png_and_another_seed_another_one():
    first, _ = _generate(seed=7)
    again, _ = _generate(seed=7)
    other, _ = _generate(seed=8)

    assert first.images[0].data == again.images[0].data
    assert first.images[0].data != other.images[0].data
    image = Image.open(io.BytesIO(first.images[0].data))
    assert (image.format, image.size) == ("PNG", (128, 128))
    assert (first.provider, first.cost_usd) == ("local", 0.0)


def test_progress_is_reported_in_increasing_steps_up_to_100():
    _, steps = _generate()

    percents = [p for p, _ in steps]
    assert percents == sorted(percents)
    assert len(set(percents)) >= 6
    assert steps[-1] == (100, "Done")


@pytest.mark.parametrize(
    ("prompt", "feature", "expected"),
    [
        ("man with a beard", "beard", True),
        ("woman with glasses", "glasses", True),
        ("bald man", "hair_style", "bald"),
        ("long red hair", "hair_style", "long"),
        ("serious face", "smile", False),
        ("person in a hat", "hat", True),
    ],
)
def test_words_in_the_prompt_steer_the_drawing(prompt, feature, expected):
    for seed in range(5):
        assert getattr(avatar_features(GenerationRequest(prompt=prompt, seed=seed)), feature) == expected


def test_a_named_hair_colour_is_used():
    assert avatar_features(GenerationRequest(prompt="woman with blue hair")).hair == "#4a78d6"


def test_every_style_draws_and_unknown_styles_are_refused():
    for style in STYLES:
        assert _generate(style=style)[0].images

    with pytest.raises(PermanentProviderError, match="unknown style"):
        _generate(style="oil-painting")


@pytest.mark.parametrize(("size", "drawn"), [(32, 64), (64, 64), (777, 777), (4096, 2048)])
def test_a_size_is_drawn_exactly_within_64_to_2048_px_and_at_the_nearest_end_beyond(size, drawn):
    result, _ = _generate(size=size)

    assert LocalProvider().native_size("", size) == drawn
    assert LocalProvider().max_side() == 2048
    image = result.images[0]
    assert (image.width, image.height) == (drawn, drawn) == Image.open(io.BytesIO(image.data)).size


def test_several_images_in_one_request_differ():
    result, _ = _generate(num_images=3)

    assert len({image.data for image in result.images}) == 3
