"""Benchmark of the local avatar generator: faithfulness to the prompt, variety of the demo library, speed.

1. faithful: every prompt of bench/local_generator_prompts.py (written with the attributes it asks
   for) is drawn in every style through `LocalProvider.generate`, and each asked-for attribute is
   checked from the rendered pixels (generation/providers/local/checks*.py: the hair's colour where
   the hair is, a frame in the eye band, the hat's colour, beard below the mouth, the corners'
   background, the mouth's curve...). A drawing is faithful when every check passes.
2. distinct: the demo library as `manage.py load_demo` draws it (gallery/demo.py
   demo_drawings: 240 avatars, styles in turn, 512 px; a drawing too close to an earlier one is
   drawn again from other words), hashed again here from the pixels as the gallery hashes
   (difference hash): the share of avatars with no other within GALLERY_DUPLICATE_MAX_DISTANCE bits.
3. p95_ms: wall time of `generate` for one 1024 px image (drawing and PNG encoding), over prompts
   of the set in every style, after a warm-up.

Ends with one line: `local_generator faithful=<share> distinct=<share> p95_ms=<ms>`.
Targets: faithful >= 0.95, distinct >= 0.99, p95 < 150 ms at 1024 px (on a 2-core machine).
Run: `.venv/bin/python -m bench.local_generator` (about a minute); `--failures` lists the failed checks.
"""

import argparse
import io
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from PIL import Image  # noqa: E402

from bench.local_generator_prompts import PROMPTS  # noqa: E402
from bench.stack import percentile  # noqa: E402
from generation.providers.base import GenerationRequest  # noqa: E402
from generation.providers.local import STYLES, LocalProvider  # noqa: E402
from generation.providers.local.checks import check_attributes  # noqa: E402


def _draw(provider: LocalProvider, prompt: str, style: str, seed: int, size: int) -> Image.Image:
    result = provider.generate(GenerationRequest(prompt=prompt, style=style, seed=seed, size=size))
    return Image.open(io.BytesIO(result.images[0].data)).convert("RGB")


def faithfulness(*, size: int, show_failures: bool) -> float:
    provider = LocalProvider()
    renders = faithful = 0
    by_kind: dict[str, Counter] = defaultdict(Counter)
    by_style: Counter = Counter()
    failures = []
    for index, (prompt, expected) in enumerate(PROMPTS):
        for style in STYLES:
            image = _draw(provider, prompt, style, index, size)
            checks = check_attributes(image, expected)
            renders += 1
            for check in checks:
                by_kind[check.attribute]["ok" if check.ok else "failed"] += 1
            if all(c.ok for c in checks):
                faithful += 1
                by_style[style] += 1
            else:
                failures += [(prompt, style, c) for c in checks if not c.ok]
    print(f"faithfulness: {len(PROMPTS)} prompts x {len(STYLES)} styles at {size} px: {faithful}/{renders} drawings pass every check")
    for style in STYLES:
        print(f"  {style:<8} {by_style[style]}/{len(PROMPTS)}")
    for kind, counts in sorted(by_kind.items()):
        total = counts["ok"] + counts["failed"]
        print(f"  {kind:<18} {counts['ok']}/{total} checks pass")
    if show_failures:
        for prompt, style, check in failures:
            print(f"  FAILED [{style}] {prompt!r}: {check.attribute}: {check.detail}")
    return faithful / renders


def distinctness(*, count: int, size: int) -> float:
    """The demo library as `load_demo` draws it (demo.demo_drawings), hashed again here from each
    drawing's pixels: the share of avatars with no other within GALLERY_DUPLICATE_MAX_DISTANCE bits."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings.base")
    import django

    django.setup()
    from django.conf import settings

    from gallery import demo, imaging

    hashes = [
        imaging.difference_hash(imaging.square_crop(Image.open(io.BytesIO(drawing.picture.data))))
        for drawing in demo.demo_drawings(count=count, size=size, drawer=demo.demo_drawer())
    ]
    limit = settings.GALLERY_DUPLICATE_MAX_DISTANCE
    alone = 0
    closest = []
    for i, value in enumerate(hashes):
        nearest = min(imaging.hamming_distance(value, other) for j, other in enumerate(hashes) if j != i)
        closest.append(nearest)
        alone += nearest > limit
    spread = Counter(min(d, 12) for d in closest)
    print(
        f"distinctness: {count} demo avatars at {size} px; nearest other (bits): " + ", ".join(f"{d}:{spread[d]}" for d in sorted(spread))
    )
    print(f"  {alone}/{count} have no other within {limit} bits")
    return alone / count


def timing(*, count: int) -> float:
    """Wall time per 1024 px image (what a user waits), with the CPU time beside it: on a shared
    machine the difference is other processes' load, which the load average shows."""
    provider = LocalProvider()
    cases = [(PROMPTS[i * 7 % len(PROMPTS)][0], STYLES[i % len(STYLES)], i) for i in range(count)]
    for prompt, style, seed in cases[:4]:  # warm-up: first imports and caches
        provider.generate(GenerationRequest(prompt=prompt, style=style, seed=seed, size=1024))
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for prompt, style, seed in cases:
        started, started_cpu = time.perf_counter(), time.process_time()
        provider.generate(GenerationRequest(prompt=prompt, style=style, seed=seed, size=1024))
        wall[style].append((time.perf_counter() - started) * 1000)
        cpu[style].append((time.process_time() - started_cpu) * 1000)
    print(f"timing: {count} images of 1024 px through generate (drawing and PNG encoding); load average {os.getloadavg()[0]:.1f}")
    for style in STYLES:
        values, cpus = wall[style], cpu[style]
        print(
            f"  {style:<8} wall p50={percentile(values, 0.5):6.1f} ms p95={percentile(values, 0.95):6.1f} ms;"
            f" cpu p95={percentile(cpus, 0.95):6.1f} ms (n={len(values)})"
        )
    return percentile([t for values in wall.values() for t in values], 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="side of the drawings checked for faithfulness")
    parser.add_argument("--demo", type=int, default=240, help="demo avatars drawn for distinctness")
    parser.add_argument("--timed", type=int, default=120, help="1024 px drawings timed")
    parser.add_argument("--failures", action="store_true", help="list every failed check")
    args = parser.parse_args()
    faithful = faithfulness(size=args.size, show_failures=args.failures)
    distinct = distinctness(count=args.demo, size=512)
    p95 = timing(count=args.timed)
    print(f"local_generator faithful={faithful:.3f} distinct={distinct:.3f} p95_ms={p95:.1f}")


if __name__ == "__main__":
    main()
