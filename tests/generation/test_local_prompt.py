"""The local generator's prompt reader: attributes from many phrasings, the phrases it will draw, the words it cannot use."""

import pytest

from generation.providers.local.prompt import AGE_GROUPS, prompt_attributes

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # Hair: colour, length, texture, style; the adjective finds its noun however it is said.
        ("curly red hair and round glasses", {"hair_texture": "curly", "hair_color": "red", "eyewear": "round glasses"}),
        ("a woman whose hair is long and wavy", {"hair_length": "long", "hair_texture": "wavy", "gender": "female"}),
        ("red, curly hair", {"hair_color": "red", "hair_texture": "curly"}),
        ("red-haired man", {"hair_color": "red", "gender": "male"}),
        ("a redhead", {"hair_color": "red"}),
        ("brunette with a bob", {"hair_color": "brown", "hair_length": "medium"}),
        ("a blonde woman", {"hair_color": "blond", "gender": "female"}),
        ("platinum blonde hair", {"hair_color": "platinum"}),
        ("strawberry-blonde curls", {"hair_color": "strawberry blond"}),
        ("light brown shoulder-length hair", {"hair_color": "light brown", "hair_length": "medium"}),
        ("dark hair", {"hair_color": "dark brown"}),
        ("grey hair", {"hair_color": "gray"}),
        ("hair in a bun", {"hair_style": "bun"}),
        ("a pink ponytail", {"hair_style": "ponytail", "hair_color": "pink"}),
        ("girl with pigtails", {"hair_style": "pigtails", "age_group": "child"}),
        ("a big afro", {"hair_style": "afro", "hair_texture": "curly"}),
        ("green mohawk", {"hair_style": "mohawk", "hair_color": "green"}),
        ("bald man", {"hair_style": "bald", "gender": "male"}),
        ("a shaved head", {"hair_style": "bald"}),
        # Facial hair, and saying there is none.
        ("bearded man", {"facial_hair": "beard"}),
        ("a man with a red beard", {"facial_hair": "beard", "facial_hair_color": "red"}),
        ("handlebar moustache", {"facial_hair": "moustache"}),
        ("a man with a mustache", {"facial_hair": "moustache"}),
        ("goatee", {"facial_hair": "goatee"}),
        ("five o'clock shadow", {"facial_hair": "stubble"}),
        ("clean-shaven", {"facial_hair": "none"}),
        ("man, no beard", {"facial_hair": "none"}),
        # Eyewear with its shape and colour.
        ("glasses", {"eyewear": "glasses"}),
        ("round glasses", {"eyewear": "round glasses"}),
        ("oval spectacles", {"eyewear": "round glasses"}),
        ("thick rimmed glasses", {"eyewear": "square glasses"}),
        ("black rectangular glasses", {"eyewear": "square glasses", "eyewear_color": "black"}),
        ("red glasses", {"eyewear": "glasses", "eyewear_color": "red"}),
        ("sunglasses", {"eyewear": "sunglasses"}),
        ("wearing shades", {"eyewear": "sunglasses"}),
        ("without glasses", {"eyewear": "none"}),
        # Headwear with its colour; "a blue hat" is a blue hat.
        ("a blue hat", {"headwear": "hat", "headwear_color": "blue"}),
        ("red baseball cap", {"headwear": "cap", "headwear_color": "red"}),
        ("yellow bobble hat", {"headwear": "beanie", "headwear_color": "yellow"}),
        ("brown cowboy hat", {"headwear": "cowboy hat", "headwear_color": "brown"}),
        ("black top hat", {"headwear": "top hat", "headwear_color": "black"}),
        ("a beret", {"headwear": "beret"}),
        ("pink headband", {"headwear": "headband", "headwear_color": "pink"}),
        ("a tiara", {"headwear": "crown"}),
        ("no hat", {"headwear": "none"}),
        # Clothing with its colour, however it is worn.
        ("a red shirt", {"clothing": "shirt", "clothing_color": "red"}),
        ("wearing a light blue hoodie", {"clothing": "hoodie", "clothing_color": "light blue"}),
        ("a man in green", {"clothing_color": "green", "gender": "male"}),
        ("dressed in navy", {"clothing_color": "navy"}),
        ("green dress", {"clothing": "dress", "clothing_color": "green"}),
        ("black turtleneck", {"clothing": "turtleneck", "clothing_color": "black"}),
        ("a tuxedo", {"clothing": "suit"}),
        ("white t-shirt", {"clothing": "t-shirt", "clothing_color": "white"}),
        ("mustard cardigan", {"clothing": "sweater", "clothing_color": "mustard"}),
        ("brown leather jacket", {"clothing": "jacket", "clothing_color": "brown"}),
        # Skin tone: said of the skin, or a colour before a person.
        ("dark skin", {"skin_tone": "dark"}),
        ("dark-skinned man", {"skin_tone": "dark"}),
        ("pale skinned woman", {"skin_tone": "pale"}),
        ("deep brown skin", {"skin_tone": "dark"}),
        ("olive skin", {"skin_tone": "olive"}),
        ("a tanned man", {"skin_tone": "tan"}),
        ("a black woman", {"skin_tone": "deep", "gender": "female"}),
        ("a white man", {"skin_tone": "fair", "gender": "male"}),
        # Age and gender, in the gallery's values.
        ("a little boy", {"age_group": "child", "gender": "male"}),
        ("a baby", {"age_group": "infant"}),
        ("a teenager", {"age_group": "young-adult"}),
        ("young woman", {"age_group": "young-adult", "gender": "female"}),
        ("old man", {"age_group": "elderly", "gender": "male"}),
        ("elderly woman", {"age_group": "elderly", "gender": "female"}),
        ("grandpa", {"age_group": "elderly", "gender": "male"}),
        ("a middle-aged man", {"age_group": "adult", "gender": "male"}),
        ("a woman", {"age_group": "adult", "gender": "female"}),
        ("a person", {}),
        # Expressions.
        ("smiling", {"expression": "smile"}),
        ("a happy face", {"expression": "smile"}),
        ("big smile", {"expression": "grin"}),
        ("laughing", {"expression": "laugh"}),
        ("serious", {"expression": "serious"}),
        ("calm", {"expression": "neutral"}),
        ("not smiling", {"expression": "neutral"}),
        ("sad", {"expression": "sad"}),
        ("shocked", {"expression": "surprised"}),
        ("grumpy", {"expression": "angry"}),
        ("winking", {"expression": "wink"}),
        ("smirking", {"expression": "smirk"}),
        # Eye colour.
        ("blue eyes", {"eye_color": "blue"}),
        ("blue-eyed", {"eye_color": "blue"}),
        ("hazel eyes", {"eye_color": "hazel"}),
        # Backgrounds: a colour however it is said, or a scene.
        ("on a yellow background", {"background": "yellow"}),
        ("background is pink", {"background": "pink"}),
        ("background purple, a woman", {"background": "purple", "gender": "female"}),
        ("against a dark green backdrop", {"background": "dark green"}),
        ("at the beach", {"background": "beach"}),
        ("in the forest", {"background": "forest"}),
        ("in space", {"background": "space"}),
        ("city skyline background", {"background": "city"}),
        ("at sunset", {"background": "sunset"}),
        ("snowy background", {"background": "snow"}),
        ("face shape: heart-shaped face", {"face_shape": "heart"}),
        ("round face", {"face_shape": "round"}),
    ],
)
def test_prompts_are_read_into_their_attributes(prompt, expected):
    attributes = prompt_attributes(prompt).attributes

    assert expected.items() <= attributes.items(), attributes
    # Beyond what is asked, only who the words name ("a woman": female, adult).
    assert set(attributes) - set(expected) <= {"gender", "age_group"}, attributes


def test_a_person_word_says_gender_and_an_adult_age_and_nothing_else():
    assert prompt_attributes("a woman").attributes == {"gender": "female", "age_group": "adult"}
    assert prompt_attributes("a person").attributes == {}
    assert prompt_attributes("bearded man").attributes == {"gender": "male", "age_group": "adult", "facial_hair": "beard"}


def test_the_issue_s_prompt_is_drawn_in_words_and_the_rest_is_said_to_be_not_understood():
    reading = prompt_attributes("A smiling woman with curly red hair and round glasses, astronaut")

    assert reading.drawn == ["woman", "curly red hair", "round glasses", "smile"]
    assert reading.not_understood == ["astronaut"]


@pytest.mark.parametrize(
    ("prompt", "not_understood"),
    [
        ("a pirate with an eye patch", ["pirate", "eye", "patch"]),
        ("gold hoop earrings and a red hat", ["gold", "hoop", "earrings"]),
        ("freckles, a blue scarf", ["freckles", "blue", "scarf"]),
        ("a cute robot", ["robot"]),
        ("portrait of a woman, high quality, detailed", []),
    ],
)
def test_content_words_it_cannot_draw_are_listed_with_the_colours_said_of_them(prompt, not_understood):
    assert prompt_attributes(prompt).not_understood == not_understood


def test_two_colours_go_to_their_own_nouns():
    reading = prompt_attributes("a man with blue hair, a red hat and a yellow shirt on a green background")

    assert reading.attributes == {
        "gender": "male", "age_group": "adult", "hair_color": "blue", "headwear": "hat", "headwear_color": "red",
        "clothing": "shirt", "clothing_color": "yellow", "background": "green",
    }  # fmt: skip
    assert reading.drawn == ["man", "blue hair", "red hat", "yellow shirt", "green background"]


def test_bald_wins_over_hair_words_said_before_it_and_an_afro_is_curly():
    assert prompt_attributes("long brown hair, bald").attributes == {"hair_style": "bald"}
    assert prompt_attributes("a straight afro").attributes["hair_texture"] == "curly"


def test_age_groups_are_the_gallery_s_values():
    ages = {prompt_attributes(p).attributes.get("age_group") for p in ("baby", "girl", "teen", "man", "old lady")}
    assert ages == set(AGE_GROUPS)


def test_reading_is_pure_and_the_same_every_time():
    first = prompt_attributes("A laughing old man with a white beard in a red beanie")
    again = prompt_attributes("A laughing old man with a white beard in a red beanie")

    assert first == again
    assert first.drawn == ["old man", "white beard", "red beanie", "laugh"]
