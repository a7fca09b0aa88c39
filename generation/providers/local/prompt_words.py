"""The prompt reader's vocabulary, as data: the values each attribute can take and every phrase it knows.

PHRASES maps a phrase (a tuple of words) to (kind, value); prompt.py lexes a prompt with it (longest phrase
first) and reader.py binds what it finds. Adding a word the drawing can honour is one `_add` line here.
"""

from .colors import BASE, SYNONYMS

# The values each attribute can take (what the drawing knows how to draw).
HAIR_LENGTHS = ("short", "medium", "long")
HAIR_TEXTURES = ("straight", "wavy", "curly")
HAIR_STYLES = ("loose", "bun", "ponytail", "pigtails", "afro", "mohawk", "bald")
FACIAL_HAIR = ("none", "beard", "moustache", "goatee", "stubble")
EYEWEAR = ("none", "round glasses", "square glasses", "sunglasses")
HEADWEAR = ("none", "hat", "cap", "beanie", "cowboy hat", "top hat", "beret", "headband", "crown")
CLOTHING = ("t-shirt", "shirt", "hoodie", "sweater", "jacket", "suit", "dress", "turtleneck")
EXPRESSIONS = ("smile", "grin", "laugh", "neutral", "serious", "sad", "surprised", "angry", "wink", "smirk")
AGE_GROUPS = ("infant", "child", "young-adult", "adult", "elderly")  # the gallery's values
FACE_SHAPES = ("oval", "round", "square", "heart", "long")
SCENES = ("beach", "forest", "city", "space", "sunset", "snow", "mountains", "park", "studio")

# Each phrase (a tuple of words) -> (kind, value). Longest phrases win.
PHRASES: dict[tuple[str, ...], tuple[str, str]] = {}


def _add(kind: str, value: str, *phrases: str) -> None:
    for phrase in phrases:
        PHRASES[tuple(phrase.split())] = (kind, value)


# People: (gender, age) as "gender|age", either may be empty.
_add("person", "female|", "woman", "women", "lady", "female", "she", "her", "businesswoman", "mother", "mom", "mum", "queen",
     "wife", "actress", "gal", "feminine")  # fmt: skip
_add("person", "male|", "man", "men", "guy", "male", "gentleman", "he", "him", "his", "businessman", "father", "dad", "king",
     "husband", "dude", "fellow", "masculine", "bloke")  # fmt: skip
_add("person", "|", "person", "people", "someone", "somebody", "individual", "human", "character", "nonbinary", "non binary",
     "androgynous", "they", "their", "them")  # fmt: skip
_add("person", "female|child", "girl", "little girl", "young girl", "daughter", "schoolgirl", "princess")
_add("person", "male|child", "boy", "little boy", "young boy", "son", "schoolboy", "prince")
_add("person", "|child", "child", "kid", "kids", "children", "little one", "little kid", "little child", "young child")
_add("person", "|infant", "baby", "infant", "toddler", "newborn")
_add("person", "female|elderly", "grandma", "grandmother", "granny", "old lady", "old woman")
_add("person", "male|elderly", "grandpa", "grandfather", "old man", "grandad", "granddad")
_add("person", "female|young-adult", "teenage girl", "young woman", "young lady")
_add("person", "male|young-adult", "teenage boy", "young man")
_add("age", "elderly", "old", "elderly", "senior", "aged", "older", "retired", "wrinkled", "wrinkly")
_add("age", "young-adult", "teen", "teenager", "teenage", "young", "youth", "student", "adolescent", "twenties", "20s")
_add("age", "adult", "adult", "middle aged", "grown up", "thirties", "forties", "30s", "40s")
_add("age", "child", "small child", "childlike")

# Hair.
_add("noun", "hair", "hair", "haired", "hairstyle", "hairdo", "locks", "mane", "curls")
_add("hair_length", "long", "long", "longer", "waist length", "flowing")
_add("hair_length", "medium", "medium", "shoulder length", "mid length", "chin length", "medium length", "bob", "bobbed")
_add("hair_length", "short", "short", "cropped", "pixie", "pixie cut", "buzz cut", "crew cut", "buzzed", "close cropped")
_add("hair_texture", "curly", "curly", "coily", "kinky", "frizzy", "ringlets", "permed")
_add("hair_texture", "wavy", "wavy", "waves", "beach waves")
_add("hair_texture", "straight", "straight", "sleek")
_add("hair_style", "bun", "bun", "buns", "top knot", "topknot", "hair bun", "updo", "man bun")
_add("hair_style", "ponytail", "ponytail", "pony tail", "pony")
_add("hair_style", "pigtails", "pigtails", "pig tails", "bunches", "twin tails")
_add("hair_style", "afro", "afro", "fro")
_add("hair_style", "mohawk", "mohawk", "mohican", "punk")
_add("hair_style", "bald", "bald", "shaved head", "shaven head", "hairless", "bald head", "no hair")
# Hair-only colour words and words that say a hair colour by themselves.
_add("hair_word", "red", "redhead", "redheaded")
_add("hair_word", "brown", "brunette", "brunet")
_add("hair_word", "blond", "blondie")

# Facial hair.
_add("facial_hair", "beard", "beard", "bearded", "full beard", "long beard", "beardy")
_add("facial_hair", "moustache", "moustache", "mustache", "moustached", "mustached", "handlebar moustache")
_add("facial_hair", "goatee", "goatee", "chin beard")
_add("facial_hair", "stubble", "stubble", "stubbly", "five o clock shadow", "unshaven", "scruff", "scruffy")
_add("facial_hair", "none", "clean shaven", "clean shaved", "shaven", "beardless")

# Eyewear: nouns and the shapes that qualify them.
_add("eyewear", "glasses", "glasses", "spectacles", "eyeglasses", "specs", "bespectacled", "eyewear", "reading glasses")
_add("eyewear", "sunglasses", "sunglasses", "sun glasses", "shades", "aviators", "aviator sunglasses")
_add("shape", "round", "round", "circular")
_add("shape", "oval", "oval")
_add("shape", "square", "square", "rectangular", "squared", "boxy", "angular", "nerdy", "thick rimmed")

# Headwear.
_add("headwear", "hat", "hat", "fedora", "sun hat", "trilby", "panama hat", "bowler hat", "bowler")
_add("headwear", "cap", "cap", "baseball cap", "ball cap", "snapback", "trucker cap", "trucker hat")
_add("headwear", "beanie", "beanie", "knit hat", "knitted hat", "bobble hat", "wool hat", "woolly hat", "toque", "tuque")
_add("headwear", "cowboy hat", "cowboy hat", "stetson", "cowgirl hat")
_add("headwear", "top hat", "top hat", "tophat")
_add("headwear", "beret", "beret")
_add("headwear", "headband", "headband", "hair band", "hairband", "sweatband")
_add("headwear", "crown", "crown", "tiara", "diadem")

# Clothing.
_add("clothing", "t-shirt", "t shirt", "tshirt", "tee", "tee shirt", "top")
_add("clothing", "shirt", "shirt", "blouse", "polo", "polo shirt", "button up", "button down", "collared shirt", "dress shirt")
_add("clothing", "hoodie", "hoodie", "hoody", "hooded sweatshirt", "sweatshirt")
_add("clothing", "sweater", "sweater", "jumper", "pullover", "cardigan", "knit sweater", "knitwear")
_add("clothing", "jacket", "jacket", "blazer", "coat", "leather jacket", "denim jacket", "bomber jacket", "overcoat", "parka")
_add("clothing", "suit", "suit", "tuxedo", "suit and tie", "business suit")
_add("clothing", "dress", "dress", "gown", "sundress")
_add("clothing", "turtleneck", "turtleneck", "turtle neck", "polo neck", "roll neck")
_add("clothing_word", "", "dressed", "clothes", "clothing", "outfit", "wearing", "wears", "wear", "clad", "in")

# Skin, eyes, face, background.
_add("noun", "skin", "skin", "skinned", "complexion", "skin tone", "skintone")
_add("noun", "eyes", "eyes", "eye", "eyed")
_add("noun", "face", "face", "faced", "face shape")
_add("noun", "background", "background", "backdrop", "bg", "back ground")
_add("face_shape", "heart", "heart shaped", "heart")
_add("face_shape", "long", "narrow")
_add("face_shape", "square", "strong jaw", "square jaw", "chiseled", "chiselled")
_add("face_shape", "round", "chubby", "plump")
_add("skin_word", "pale", "pale")
_add("skin_word", "fair", "fair")
_add("skin_word", "light", "light")
_add("skin_word", "medium", "medium")
_add("skin_word", "olive", "olive")
_add("skin_word", "tan", "tan", "tanned", "suntanned", "sun tanned", "bronzed")
_add("skin_word", "brown", "brown")
_add("skin_word", "dark", "dark", "darker")
_add("skin_word", "deep", "deep", "ebony")
_add("eye_word", "hazel", "hazel")
_add("eye_word", "amber", "amber")

# Scenes (a background of their own).
_add("scene", "beach", "beach", "seaside", "ocean", "sea", "seashore", "shore", "tropical")
_add("scene", "forest", "forest", "woods", "woodland", "jungle", "trees")
_add("scene", "city", "city", "cityscape", "skyline", "urban", "downtown", "street", "town")
_add("scene", "space", "space", "outer space", "galaxy", "stars", "starry", "night sky", "cosmos", "starry sky", "night")
_add("scene", "sunset", "sunset", "sunrise", "dusk", "dawn", "golden hour")
_add("scene", "snow", "snow", "snowy", "winter", "snowfall", "wintry")
_add("scene", "mountains", "mountains", "mountain", "mountainside", "hills", "alps")
_add("scene", "park", "park", "garden", "meadow", "field", "grass", "countryside")
_add("scene", "studio", "studio", "studio backdrop", "plain background", "neutral background")

# Expressions.
_add("expression", "smile", "smile", "smiling", "smiles", "smiley", "happy", "cheerful", "friendly", "joyful", "pleasant",
     "kind", "warm smile", "gentle smile", "soft smile", "glad", "content", "sweet smile")  # fmt: skip
_add("expression", "grin", "grin", "grinning", "big smile", "broad smile", "wide smile", "beaming", "toothy grin", "huge smile",
     "toothy smile", "grins")  # fmt: skip
_add("expression", "laugh", "laugh", "laughing", "laughs", "laughter", "giggling", "excited", "ecstatic", "overjoyed")
_add("expression", "neutral", "neutral", "calm", "relaxed", "expressionless", "straight face", "blank", "composed", "deadpan",
     "poker face", "indifferent")  # fmt: skip
_add("expression", "serious", "serious", "stern", "stoic", "focused", "determined", "solemn", "thoughtful", "pensive", "confident")
_add("expression", "sad", "sad", "unhappy", "frowning", "frown", "sorrowful", "upset", "gloomy", "melancholy", "crying", "tearful",
     "depressed", "disappointed", "worried")  # fmt: skip
_add("expression", "surprised", "surprised", "shocked", "astonished", "amazed", "startled", "surprise", "wow", "stunned")
_add("expression", "angry", "angry", "mad", "furious", "grumpy", "annoyed", "irritated", "cross", "scowling", "scowl", "fierce")
_add("expression", "wink", "wink", "winking", "winks")
_add("expression", "smirk", "smirk", "smirking", "sly", "smug", "cheeky", "mischievous", "playful")

_add("neg", "", "without", "no", "not", "never", "minus")
# Words that carry no attribute: they neither help nor go unheard.
STOP_WORDS = frozenset(
    """a an the and with of on at is are was be been has have having who that which this these those its it's
    to for from by as or but also plus while into onto over under very really quite slightly bit somewhat some
    pair one two portrait avatar profile picture pic photo image headshot head shot drawing illustration
    illustrated cartoon render rendered style styled icon looking looks look showing shows show wearing
    sporting sports has had got featuring features feature like just kinda colored coloured color colour
    tone toned shade shaded tinted hued i me my your you we our please make create draw give generate want
    need can could would should will shall let lets let's up down front behind against background there here
    standing sitting posing pose upper body bust shoulders shoulder view closeup close cute nice lovely good
    beautiful handsome pretty gorgeous attractive great cool awesome simple detailed high quality hd 4k
    big large huge small tiny little
    """.split()  # noqa: SIM905 - a word list reads best as words
)

COLOUR_WORDS = {*BASE, *SYNONYMS, "blond", "blonde", "ginger", "auburn", "platinum", "chestnut", "copper", "strawberry"}
MAX_PHRASE = max(len(key) for key in PHRASES)
# "platinum blonde", "dirty blond": one hair colour.
BLONDS = {"strawberry": "strawberry blond", "platinum": "platinum", "dirty": "dark blond", "ash": "light blond", "honey": "blond",
          "golden": "blond", "sandy": "dark blond", "light": "light blond", "dark": "dark blond", "pale": "light blond"}  # fmt: skip
