"""Ideas for the generate form: suggestion chips and the "Surprise me" list. Fixed lists, no
network: every description names things every style can draw (hair, eyewear, headwear, clothes,
expression, background), so an idea never disappoints in an instant style."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptSuggestion:
    label: str  # the chip's text
    prompt: str  # what it puts in the description


PROMPT_SUGGESTIONS = (
    PromptSuggestion("Curly red hair", "A smiling woman with curly red hair and round glasses"),
    PromptSuggestion("Bearded, blue hat", "A man with a short brown beard and a blue beanie"),
    PromptSuggestion("Silver bun", "An elderly woman with a grey bun, pearl earrings and a warm smile"),
    PromptSuggestion("Pink ponytail", "A teenager with a pink ponytail and a yellow hoodie"),
    PromptSuggestion("Bald, sunglasses", "A bald man with sunglasses and a black leather jacket, serious"),
    PromptSuggestion("Afro, green shirt", "A laughing young man with an afro and a green shirt"),
)

SURPRISE_PROMPTS = (
    "A cheerful woman with long wavy blond hair, a red scarf and a sunny yellow background",
    "A serious man with a black beard, square glasses and a navy suit",
    "A girl with two brown braids, freckles and a purple t-shirt",
    "An old man with white hair, a grey moustache and a flat cap",
    "A woman with short blue hair, round glasses and a white shirt on a pink background",
    "A young man with a red baseball cap, a wide smile and an orange hoodie",
    "A woman with a black ponytail, gold hoop earrings and a green jacket",
    "A bald woman with bright lipstick and a teal turtleneck",
    "A man with a curly grey beard, a knitted green beanie and a warm smile",
    "A teenager with purple curly hair and headphones",
    "A woman with a long brown braid, a straw hat and a white dress",
    "A boy with messy ginger hair, freckles and a blue striped shirt",
    "An elderly man with a white beard, glasses and a brown cardigan",
    "A woman with a sleek silver bob and a black turtleneck, calm",
    "A smiling man with dreadlocks tied back and a yellow shirt",
    "A woman with curly black hair, a red beret and a mint background",
    "A man with a blond quiff, a pink shirt and sunglasses",
    "A grandmother with a white bun, round glasses and a lilac sweater, laughing",
    "A young woman with a shaved head, a nose ring and a leather jacket",
    "A man with wavy brown hair, a stubble beard and a denim jacket",
)
