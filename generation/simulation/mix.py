"""The simulated month's request stream: users and their plans, how many generations each makes and
when, and what each asks for (presets, Zipf-distributed free prompts, styles, variations); seeded."""

import itertools
import math
import random
from dataclasses import dataclass, field

from ..prompts import PROMPT_SUGGESTIONS, SURPRISE_PROMPTS
from ..styles import AI_STYLE, LOCAL_STYLES

# --- The seed's projection (seed 001, "AI avatar generation for a high-traffic site"), copied here:
# the project never reads the research at run time. §4.2: hybrid site, 100,000 users a month, 70 % of
# them take a pre-generated avatar and 30 % request AI generation: 30,000 AI generations ($90-240,
# i.e. $0.003-0.008 an image), a pre-generated library ($250) and R2 storage ($15): $355-505 a month;
# §8.3: $0.0036-0.0051 per user per month; §5.1: the cache removes ~40 % of repeat generations.
SEED_USERS = 100_000
SEED_GENERATING_SHARE = 0.30
SEED_AI_GENERATIONS = 30_000
SEED_GENERATIONS_PER_GENERATING_USER = SEED_AI_GENERATIONS / (SEED_USERS * SEED_GENERATING_SHARE)  # 1.0
SEED_AI_MONTHLY_USD = (90.0, 240.0)
SEED_FIXED_MONTHLY_USD = 250.0 + 15.0  # pre-generated library + storage: not provider calls
SEED_COST_PER_USER = (0.0036, 0.0051)
SEED_REUSE_SHARE = 0.40
# §3.2: premium users make 5-10 custom generations a month; §8.3's profitable case has 500 premium
# users in 100,000 (0.5 %). Enterprise ("unlimited") is our assumption: 0.05 % of users, 30 a month.
PREMIUM_GENERATIONS_PER_MONTH = 7.5
ENTERPRISE_GENERATIONS_PER_MONTH = 30.0
PREMIUM_SHARE = 0.005
ENTERPRISE_SHARE = 0.0005

# --- Our assumptions about the request mix (named so a run can be read and varied).
# Share of requests that take an idea chip or a "Surprise me" prompt as it is (the form offers them).
PRESET_SHARE = 0.35
# Free prompts: rank k is asked with probability proportional to k ** -PROMPT_ZIPF_EXPONENT.
PROMPT_ZIPF_EXPONENT = 1.1
# Share of requests for an instant (local, free) style rather than AI photos.
INSTANT_SHARE = 0.10
# Share of requests that ask for a variation (a new seed) of what was asked before: never reused.
VARIATION_SHARE = 0.10
PLANS = ("free", "premium", "enterprise")

# Free prompts are built from these words, the most common combinations first (rank 1 = first of each).
_WORDS = (
    ("woman", "man", "girl", "boy", "teenager", "elderly woman", "elderly man"),
    ("short brown hair", "long blond hair", "curly black hair", "red hair", "grey hair", "a ponytail", "a bun", "an afro"),
    ("", "round glasses", "sunglasses", "a beanie", "a beard", "freckles", "earrings"),
    ("a white shirt", "a hoodie", "a suit", "a leather jacket", "a sweater", "a t-shirt"),
    ("smiling", "serious", "laughing", "calm"),
    ("", "on a blue background", "on a pink background", "on a green background", "in a park", "in an office"),
)
_PRESETS = tuple(s.prompt for s in PROMPT_SUGGESTIONS) + SURPRISE_PROMPTS


@dataclass(frozen=True)
class MixConfig:
    users: int
    generating_share: float
    days: int
    seed: int
    premium_share: float = PREMIUM_SHARE
    enterprise_share: float = ENTERPRISE_SHARE
    generations_per_user: float = SEED_GENERATIONS_PER_GENERATING_USER
    preset_share: float = PRESET_SHARE
    zipf_exponent: float = PROMPT_ZIPF_EXPONENT
    instant_share: float = INSTANT_SHARE
    variation_share: float = VARIATION_SHARE


@dataclass(frozen=True)
class SimRequest:
    day: int
    user: int  # index into Mix.plans
    prompt: str
    style: str
    seed: int | None  # None: the request's own default seed (the same request, the same seed)


@dataclass
class Mix:
    plans: list[str] = field(default_factory=list)  # the plan of each generating user
    requests: list[SimRequest] = field(default_factory=list)  # in time order


def mix_build(config: MixConfig) -> Mix:
    """The generating users (paid plans first: every paying user generates) and their requests,
    spread over the days, ordered by day. Deterministic for a config (its `seed`)."""
    rng = random.Random(config.seed)  # noqa: S311 - a reproducible simulation, not a secret
    generating = round(config.users * config.generating_share)
    premium = min(generating, round(config.users * config.premium_share))
    enterprise = min(generating - premium, round(config.users * config.enterprise_share))
    plans = ["enterprise"] * enterprise + ["premium"] * premium + ["free"] * (generating - premium - enterprise)
    means = {
        "free": config.generations_per_user,
        "premium": PREMIUM_GENERATIONS_PER_MONTH,
        "enterprise": ENTERPRISE_GENERATIONS_PER_MONTH,
    }
    requests = []
    for user, plan in enumerate(plans):
        for _ in range(_poisson(rng, means[plan] * config.days / 30)):
            requests.append(_request(rng, config, user=user, day=rng.randrange(config.days)))
    rng.shuffle(requests)  # users' requests interleave within a day
    requests.sort(key=lambda request: request.day)
    return Mix(plans=plans, requests=requests)


def _request(rng: random.Random, config: MixConfig, *, user: int, day: int) -> SimRequest:
    if rng.random() < config.preset_share:
        prompt = _PRESETS[_zipf_rank(rng, config.zipf_exponent, limit=len(_PRESETS)) - 1]
    else:
        prompt = prompt_of_rank(_zipf_rank(rng, config.zipf_exponent))
    style = rng.choice(LOCAL_STYLES) if rng.random() < config.instant_share else AI_STYLE
    seed = rng.randrange(2**31) if rng.random() < config.variation_share else None
    return SimRequest(day=day, user=user, prompt=prompt, style=style, seed=seed)


def prompt_of_rank(rank: int) -> str:
    """The free prompt of popularity `rank` (1 = the most asked): a combination of the word lists,
    read as a mixed-radix number; past the last combination, numbered variants of them."""
    index = rank - 1
    parts = []
    for words in _WORDS:
        index, digit = divmod(index, len(words))
        parts.append(words[digit])
    person, hair, extra, clothes, mood, scene = parts
    text = f"A {mood} {person} with {hair}{f' and {extra}' if extra else ''}, wearing {clothes}{f' {scene}' if scene else ''}"
    return f"{text}, variant {index}" if index else text


def _zipf_rank(rng: random.Random, exponent: float, *, limit: int | None = None) -> int:
    """A rank drawn with P(k) proportional to k ** -exponent (k <= limit when given), by rejection
    (Devroye's method for the unbounded law; a table for a bounded one)."""
    if limit is not None:
        weights = _bounded_weights(exponent, limit)
        return rng.choices(range(1, limit + 1), cum_weights=weights)[0]
    b = 2.0 ** (exponent - 1.0)
    while True:
        u, v = 1.0 - rng.random(), rng.random()
        x = math.floor(u ** (-1.0 / (exponent - 1.0)))
        if x < 1 or x > 2**62:
            continue
        t = (1.0 + 1.0 / x) ** (exponent - 1.0)
        if v * x * (t - 1.0) / (b - 1.0) <= t / b:
            return int(x)


def _bounded_weights(exponent: float, limit: int) -> list[float]:
    return list(itertools.accumulate(k**-exponent for k in range(1, limit + 1)))


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a rounded normal for large ones (enterprise users)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
