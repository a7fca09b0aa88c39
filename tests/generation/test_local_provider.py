"""The local generator: its styles at 64 and 1024 px, determinism, progress, sizes, and its metadata contract."""

import io

import pytest
from PIL import Image

from generation.providers.base import CallContext, GenerationRequest, PermanentProviderError
from generation.providers.local import MODEL, STYLE_DESCRIPTIONS, STYLE_LABELS, STYLES, LocalProvider
from generation.providers.local.checks import check_attributes
from generation.providers.local.colors import color_rgb, delta_e
from generation.providers.local.prompt import AGE_GROUPS

pytestmark = pytest.mark.fast

ISSUE_PROMPT = "A smiling woman with curly red hair and round glasses, astronaut"


def _generate(**params):
    steps = []
    result = LocalProvider().generate(
        GenerationRequest(**{"prompt": "a person", "size": 128, **params}), CallContext(on_progress=lambda p, m: steps.append((p, m)))
    )
    return result, steps


def _image(result, index: int = 0) -> Image.Image:
    return Image.open(io.BytesIO(result.images[index].data)).convert("RGB")


def test_there_are_four_styles_each_with_a_label_and_a_one_line_description():
    assert STYLES == ("flat", "pastel", "comic", "pixel")
    assert set(STYLE_LABELS) == set(STYLE_DESCRIPTIONS) == set(STYLES)
    assert all(label and "\n" not in STYLE_DESCRIPTIONS[style] for style, label in STYLE_LABELS.items())


def test_the_same_request_draws_the_same_png_and_another_seed_another_one():
    first, _ = _generate(prompt=ISSUE_PROMPT, style="comic", seed=7)
    again, _ = _generate(prompt=ISSUE_PROMPT, style="comic", seed=7)
    other, _ = _generate(prompt=ISSUE_PROMPT, style="comic", seed=8)

    assert first.images[0].data == again.images[0].data
    assert first.metadata == again.metadata
    assert first.images[0].data != other.images[0].data
    image = Image.open(io.BytesIO(first.images[0].data))
    assert (image.format, image.size) == ("PNG", (128, 128))
    assert (first.provider, first.model, first.cost_usd) == ("local", MODEL, 0.0)


def test_a_word_changed_changes_only_its_part_the_seed_keeps_the_rest():
    red, _ = _generate(prompt="a woman with red hair", seed=3)
    blue, _ = _generate(prompt="a woman with blue hair", seed=3)

    changed = {k for k in red.metadata["attributes"] if red.metadata["attributes"][k] != blue.metadata["attributes"].get(k)}
    assert changed == {"hair_color"}


def test_progress_is_reported_in_increasing_steps_up_to_100():
    _, steps = _generate()

    percents = [p for p, _ in steps]
    assert percents == sorted(percents)
    assert len(set(percents)) >= 6
    assert steps[-1] == (100, "Done")


@pytest.mark.parametrize("style", STYLES)
def test_each_style_draws_the_asked_for_parts_at_1024_and_its_colours_at_64_px(style, artifacts_dir):
    """Saved as test-artifacts/local-styles/<style>-1024.png and <style>-64.png."""
    prompt = "a smiling woman with curly red hair, round glasses, a blue hat and a yellow hoodie on a mint background"
    expected = {
        "hair_color": "red", "hair_texture": "curly", "eyewear": "round glasses", "headwear": "hat", "headwear_color": "blue",
        "clothing": "hoodie", "clothing_color": "yellow", "background": "mint", "expression": "smile",
    }  # fmt: skip
    folder = artifacts_dir / "local-styles"
    folder.mkdir(exist_ok=True)
    large, _ = _generate(prompt=prompt, style=style, seed=11, size=1024)
    small, _ = _generate(prompt=prompt, style=style, seed=11, size=64)
    _image(large).save(folder / f"{style}-1024.png")
    _image(small).save(folder / f"{style}-64.png")

    assert (_image(large).size, _image(small).size) == ((1024, 1024), (64, 64))
    assert [c for c in check_attributes(_image(large), expected) if not c.ok] == []
    # At 64 px the colours still read: hat, clothes, background.
    at_64 = {k: v for k, v in expected.items() if k in ("headwear_color", "clothing_color", "background")}
    assert [c for c in check_attributes(_image(small), {**at_64, "headwear": "hat"}) if c.attribute != "headwear" and not c.ok] == []
    # A finished drawing, not a flat icon: many colours even at 64 px.
    assert len(_image(small).getcolors(64 * 64)) >= (12 if style == "pixel" else 40)


def test_a_named_colour_is_the_same_colour_in_every_style():
    """The old "mono" style drew every avatar grey with black hair; every style now keeps the named colours."""
    for style in STYLES:
        result, _ = _generate(prompt="a man with green hair in a red shirt", style=style, seed=2, size=256)
        image = _image(result)
        hair = image.getpixel((128, 55))  # the crown (local/shapes.py REGIONS["hair_crown"])
        shirt = image.getpixel((68, 240))  # the left shoulder (REGIONS["cloth_left"])
        assert delta_e(hair, color_rgb("green")) < 20, (style, hair)
        assert delta_e(shirt, color_rgb("red")) < 20, (style, shirt)


def test_unknown_styles_are_refused_and_photo_is_drawn_as_flat_and_says_so():
    with pytest.raises(PermanentProviderError, match="unknown style"):
        _generate(style="oil-painting")
    with pytest.raises(PermanentProviderError, match="unknown style"):
        _generate(style="mono")  # the old colour-blind style is gone

    photo, _ = _generate(prompt=ISSUE_PROMPT, style="photo", seed=5)
    flat, _ = _generate(prompt=ISSUE_PROMPT, style="flat", seed=5)
    assert photo.metadata["style"] == "flat"
    assert photo.images[0].data == flat.images[0].data


@pytest.mark.parametrize(("size", "drawn"), [(32, 64), (64, 64), (777, 777), (4096, 2048)])
def test_a_size_is_drawn_exactly_within_64_to_2048_px_and_at_the_nearest_end_beyond(size, drawn):
    result, _ = _generate(size=size, style="pixel")

    assert LocalProvider().native_size("", size) == drawn
    assert LocalProvider().max_side() == 2048
    image = result.images[0]
    assert (image.width, image.height) == (drawn, drawn) == Image.open(io.BytesIO(image.data)).size


def test_several_images_in_one_request_differ_and_each_has_its_attributes():
    result, _ = _generate(prompt="a man with a beard", num_images=3)

    assert len({image.data for image in result.images}) == 3
    assert len(result.metadata["per_image"]) == 3
    assert result.metadata["attributes"] == result.metadata["per_image"][0]
    assert all(attributes["facial_hair"] == "beard" for attributes in result.metadata["per_image"])


def test_metadata_is_the_contract_the_gallery_and_the_job_page_read():
    result, _ = _generate(prompt=ISSUE_PROMPT, style="pastel", seed=1)
    meta = result.metadata

    assert set(meta) == {"attributes", "drawn", "not_understood", "style", "per_image"}
    assert meta["drawn"] == ["woman", "curly red hair", "round glasses", "smile"]
    assert (meta["not_understood"], meta["style"]) == (["astronaut"], "pastel")
    attributes = meta["attributes"]
    # What was asked, as asked; everything else chosen and named too.
    assert {k: attributes[k] for k in ("gender", "age_group", "hair_texture", "hair_color", "eyewear", "expression")} == {
        "gender": "female", "age_group": "adult", "hair_texture": "curly", "hair_color": "red", "eyewear": "round glasses",
        "expression": "smile",
    }  # fmt: skip
    chosen = ("face_shape", "skin_tone", "hair_style", "facial_hair", "eye_color", "headwear", "clothing", "clothing_color", "background")
    assert all(attributes[key] for key in chosen), attributes
    assert all(isinstance(v, str) for v in attributes.values())


def test_gender_is_given_only_when_the_words_say_it_and_ages_are_the_gallery_s():
    for seed in range(12):
        neutral, _ = _generate(prompt="a person with glasses", seed=seed)
        assert "gender" not in neutral.metadata["attributes"]
        assert neutral.metadata["attributes"]["age_group"] in AGE_GROUPS
    boy, _ = _generate(prompt="a boy", seed=1)
    assert (boy.metadata["attributes"]["gender"], boy.metadata["attributes"]["age_group"]) == ("male", "child")


def test_what_the_drawing_cannot_show_is_not_claimed_as_drawn():
    result, _ = _generate(prompt="a pirate with a mohawk and a red cap", seed=2)

    assert "mohawk" not in result.metadata["drawn"]
    assert result.metadata["not_understood"] == ["pirate", "mohawk (under the hat)"]
    assert "red cap" in result.metadata["drawn"]


def test_a_demo_contact_sheet_of_24_avatars_is_saved(artifacts_dir):
    """test-artifacts/local-styles/demo-contact-sheet.png: the first 24 of the demo library, as load_demo draws them."""
    from gallery.demo import demo_drawings
    from generation.demo_drawer import LocalDemoDrawer

    sheet = Image.new("RGB", (6 * 192, 4 * 192), "white")
    seen = set()
    for index, drawing in enumerate(demo_drawings(count=24, size=192, drawer=LocalDemoDrawer(LocalProvider()))):
        seen.add(drawing.picture.data)
        sheet.paste(Image.open(io.BytesIO(drawing.picture.data)).convert("RGB"), ((index % 6) * 192, (index // 6) * 192))
    folder = artifacts_dir / "local-styles"
    folder.mkdir(exist_ok=True)
    sheet.save(folder / "demo-contact-sheet.png")

    assert len(seen) == 24
