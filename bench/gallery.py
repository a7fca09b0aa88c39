"""Benchmark of the gallery on 100,000 avatars in PostgreSQL: latency per case and API throughput.

Starts a throwaway PostgreSQL and Redis, loads synthetic avatars (rows only, no image bytes) with
COPY, and serves the project with uvicorn (2 worker processes, DEBUG off). Then:

1. server-side time (the Server-Timing header) of the list page and of the API for: no filter,
   two filters, text search, and page 1 against a page 90% of the way down. "cold" requests follow
   a gallery write (the page cache is empty), "warm" ones repeat a URL;
2. requests/s of the API's first page of 50 against a bare Django view returning a constant JSON
   body of the same size (the framework's floor), under the same server, with wrk on loopback
   for a bounded time;
3. the SQL queries per page at 10, 50 and 100 items (must not grow), and EXPLAIN ANALYZE of the feed
   and of word searches;
4. what the filters' counts cost (gallery.selectors.avatar_facets): the library's recount, reading
   counts from it, and counting a search's matches.

Ends with one line: `gallery p95_ms=<worst warm p95> deep_ratio=<deep / first cold p95>
throughput_ratio=<api / bare rps> cold_p95_ms=<worst cold p95> api_rps=<API req/s>
api_p95_ms=<API p95 under that load> search_sql_ms=<SQL time of a search page, the worst of a common,
a rare and an absent word> facet_recount_ms=<counting the filters' values over the whole library>`
(the deep ratio compares uncached queries, where depth could matter). With `--rows 1000000` it measures the list API's
throughput and latency on a million rows (api_rps, api_p95_ms) and that every depth and search walks an
index with no Sort or OFFSET (plans, deep_ratio, search_sql_ms).
Run: `make bench` or `.venv/bin/python -m bench.gallery --rows 100000 --seconds 10`.
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.stack import BENCH_ENV, django_setup, percentile, postgres_and_redis, uvicorn_command  # noqa: E402
from tests.support.services import free_port, wait_for_port  # noqa: E402

GENDERS = ("female", "male")
AGES = ("child", "young-adult", "adult", "adult", "elderly")
HAIR = ("black", "brown", "blonde", "red", "gray", "white", "blue", "pink")
EMOTIONS = ("smiling", "serious", "laughing", "calm", "surprised", "thoughtful")
EXTRAS = ("glasses", "a hat", "freckles", "earrings", "a beard", "headphones", "a scarf", "curly hair")
BACKGROUNDS = ("studio", "park", "office", "beach", "city", "forest", "library", "cafe")
COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray")
STYLES = ("photo", "synthetic", "illustration")
SIZES = (64, 128, 256, 512, 1024)
# About the size of a real one (a 16 px blurred WebP).
PLACEHOLDER = "data:image/webp;base64," + "UklGRkQAAABXRUJQVlA4IDgAAADQAQCdASoQABAAPm0ylUekIqIhKAgAkA2JaQAAW+2ZUAD" * 4


def load_rows(rows: int, *, hide_faces: bool = False) -> None:
    """Sources through the ORM, then avatars and their ten variants each through COPY. With
    `hide_faces`, the Generated Photos third of the rows is behind the licence gate (not confirmed)."""
    from django.db import connection

    from gallery.models import Source

    pexels = Source.objects.create(
        slug="pexels",
        name="Pexels",
        enabled=True,
        licence_confirmed=True,
        commercial_use_allowed=True,
        attribution_template="Photo by {photographer} on Pexels",
    )
    faces = Source.objects.create(slug="generated_photos", name="Generated Photos", enabled=True, licence_confirmed=not hide_faces)
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    avatar_columns = (
        "source_id, external_id, title, alt, tags, gender, age_group, ethnicity, hair_color, emotion, attributes, style, dominant_color,"
        " color_family, width, height, phash, phash_band0, phash_band1, phash_band2, phash_band3, placeholder, licence,"
        " photographer_name, photographer_url, source_page_url, content_rating, is_demo, download_count, retrieved_at,"
        " created_at, updated_at"
    )
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY gallery_avatar ({avatar_columns}) FROM STDIN") as copy:
            for number in range(rows):
                gender, age, hair = rng.choice(GENDERS), rng.choice(AGES), rng.choice(HAIR)
                emotion, extra, background = rng.choice(EMOTIONS), rng.choice(EXTRAS), rng.choice(BACKGROUNDS)
                person = {"female": "woman", "male": "man"}[gender] if age != "child" else {"female": "girl", "male": "boy"}[gender]
                title = f"{emotion.capitalize()} {person} with {hair} hair and {extra}"
                if number % 100_000 == 50_000:  # a rare word, for a search only the text index can answer
                    title += " dressed as an astronaut"
                source = pexels if number % 3 else faces
                phash = rng.getrandbits(64)
                bands = [(phash >> (16 * band)) & 0xFFFF for band in range(4)]
                created = start + timedelta(seconds=number * 60 + rng.randint(0, 50))
                copy.write_row(
                    (
                        source.pk, f"{source.slug}-{number}", title, f"{title}, {background} background",
                        json.dumps([emotion, person, f"{hair} hair", extra.removeprefix("a "), background]),
                        gender, age, "", hair, emotion, json.dumps({"background": background}), rng.choice(STYLES), "#808080",
                        rng.choice(COLORS),
                        rng.choice((4000, 3000, 2000)), rng.choice((6000, 3000, 2000)), f"{phash:016x}", *bands,
                        PLACEHOLDER, "Pexels License" if source is pexels else "Generated Photos licence",
                        f"Photographer {number % 5000}", f"https://www.pexels.com/@p{number % 5000}",
                        f"https://www.pexels.com/photo/{number}/", "general", False, rng.randint(0, 5000), created, created, created,
                    )
                )  # fmt: skip
        cursor.execute("SELECT id FROM gallery_avatar ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.copy("COPY gallery_avatarvariant (avatar_id, size, format, key, bytes) FROM STDIN") as copy:
            for avatar_id in ids:
                digest = f"{rng.getrandbits(128):032x}"
                for size in SIZES:
                    for fmt in ("webp", "jpeg"):
                        copy.write_row((avatar_id, size, fmt, f"avatars/{digest[:2]}/{digest}-{size}.{fmt}", size * size // 12))
        cursor.execute("VACUUM ANALYZE gallery_avatar")
        cursor.execute("VACUUM ANALYZE gallery_avatarvariant")


def facet_costs() -> dict[str, float]:
    """What the filters' counts cost (gallery.selectors.avatar_facets): counting the library's cube
    (after a gallery change, at most once per FACET_TTL), reading counts from it (no filter, two
    filters), and counting a text search's matches (a rare and a common word) and reading them."""
    from django.core.cache import cache

    from gallery.selectors import AvatarFilters, avatar_facets

    def median_ms(filters: AvatarFilters, *, counted: bool) -> float:
        times = []
        for _ in range(5):
            if counted:
                cache.clear()  # no cube, no page: counted afresh
            started = time.perf_counter()
            avatar_facets(filters=filters)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    return {
        "library recount": median_ms(AvatarFilters(), counted=True),
        "no filter": median_ms(AvatarFilters(), counted=False),
        "two filters": median_ms(AvatarFilters(gender="female", color="blue"), counted=False),
        "search recount": median_ms(AvatarFilters(q="red hair glasses"), counted=True),
        "common-word search recount": median_ms(AvatarFilters(q="freckles"), counted=True),
        "common-word search": median_ms(AvatarFilters(q="freckles"), counted=False),
    }


def deep_cursor(offset: int) -> str:
    from gallery.models import Avatar
    from gallery.selectors import encode_cursor

    avatar = Avatar.objects.order_by("-created_at", "-id")[offset]
    return encode_cursor(avatar, "newest")


def explain_queries(cursor_value: str) -> tuple[str, dict[str, float]]:
    """EXPLAIN ANALYZE of the feed's first and deep page, and of every query of a search page for a
    common, a rare and an absent word: the plans, and each case's SQL time in ms (the best of three,
    the data then in PostgreSQL's buffers)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gallery.selectors import AvatarFilters, avatar_filter, avatar_page, ordered_after

    feed = {
        "first page": ordered_after(avatar_filter(filters=AvatarFilters()), "newest", "")[:51],
        "deep page": ordered_after(avatar_filter(filters=AvatarFilters()), "newest", cursor_value)[:51],
    }
    cases = {label: [queryset.query.sql_with_params()] for label, queryset in feed.items()}
    for label, word in (("common word search", "freckles"), ("rare word search", "astronaut"), ("absent word search", "zebra")):
        with CaptureQueriesContext(connection) as captured:
            avatar_page(filters=AvatarFilters(q=word), limit=50)
        cases[label] = [(query["sql"], None) for query in captured.captured_queries]
    plans, times = [], {}
    with connection.cursor() as cursor:
        for label, statements in cases.items():
            runs = []
            for _ in range(3):
                total, texts = 0.0, []
                for sql, params in statements:
                    cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}", params)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    total += float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
                    texts.append(plan)
                runs.append(total)
            times[label] = min(runs)
            plans.append(f"-- {label}\n" + "\n".join(texts))
    return "\n".join(plans), times


def server_times(session: requests.Session, url: str, count: int, before_each=None) -> list[float]:
    timings = []
    for _ in range(count):
        if before_each:
            before_each()
        response = session.get(url, timeout=30)
        response.raise_for_status()
        timing = response.headers["Server-Timing"]
        timings.append(float(re.search(r"dur=([\d.]+)", timing).group(1)))
    return timings


# wrk prints p50/75/90/99 only; this prints p95 (its latency figures are in microseconds).
WRK_P95_SCRIPT = 'done = function(summary, latency, requests) io.write(string.format("p95 %.3f\\n", latency:percentile(95) / 1000)) end'


def wrk_rps(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """Requests/s and the p95 latency in ms (client side, under that load) of `url`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_P95_SCRIPT)
        script.flush()
        command = ["wrk", "-s", script.name, "-t", "1", "-c", str(connections), "-d", f"{seconds}s", url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors on {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), float(re.search(r"^p95 ([\d.]+)", output, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per latency case")
    parser.add_argument("--seconds", type=int, default=10, help="length of each throughput run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--hide-faces", action="store_true", help="leave the Generated Photos third unconfirmed (hidden)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")

    with postgres_and_redis() as (postgres, redis):
        env = {
            **os.environ,
            **BENCH_ENV,
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            # Public files as on R2 behind a CDN: URLs only, nothing is fetched.
            "R2_ENDPOINT_URL": "http://127.0.0.1:9",
            "R2_ACCESS_KEY_ID": "bench",
            "R2_SECRET_ACCESS_KEY": "bench-secret",
            "R2_BUCKET": "private",
            "R2_PUBLIC_BUCKET": "public",
            "R2_PUBLIC_URL": "https://cdn.example.com",
            "PUBLIC_API_RATE_PER_MINUTE": "100000000",
        }
        django_setup(env)
        measure(args, env)


def measure(args: argparse.Namespace, env: dict[str, str]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    server = None
    try:
        started = time.perf_counter()
        load_rows(args.rows, hide_faces=args.hide_faces)
        print(f"loaded {args.rows} avatars and {args.rows * 10} variants in {time.perf_counter() - started:.1f} s")

        from gallery.selectors import AvatarFilters, avatar_page

        for limit in (10, 50, 100):
            with CaptureQueriesContext(connection) as queries:
                avatar_page(filters=AvatarFilters(), limit=limit)
            print(f"queries for a page of {limit:>3}: {len(queries)}")
        facet_ms = facet_costs()
        print("facet counts (ms, median of 5): " + ", ".join(f"{label} {ms:.2f}" for label, ms in facet_ms.items()))
        # As deep as the gallery goes: 90% of the rows (row 900,000 of a million).
        api_deep = page_deep = deep_cursor(args.rows * 9 // 10)
        plans, query_ms = explain_queries(api_deep)
        print(plans)
        print("SQL execution (ms): " + ", ".join(f"{label} {ms:.2f}" for label, ms in query_ms.items()))
        connection.close()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        first_page = requests.Request("GET", f"{base}/api/v1/avatars", params={"limit": 50}).prepare().url
        # A first server measures the API's first page, so the bare body can be exactly as long.
        server = subprocess.Popen(
            uvicorn_command(port, workers=2),
            cwd=PROJECT_DIR,
            env={**env, "BENCH_BARE_BYTES": os.environ.get("BENCH_BARE_BYTES", "0")},
        )
        wait_for_port(port, timeout=60, proc=server)
        session = requests.Session()
        bare_bytes = len(session.get(first_page, timeout=30).content)
        server.terminate()
        server.wait(timeout=30)
        server = subprocess.Popen(
            uvicorn_command(port, workers=2),
            cwd=PROJECT_DIR,
            env={**env, "BENCH_BARE_BYTES": str(bare_bytes)},
        )
        wait_for_port(port, timeout=60, proc=server)
        time.sleep(1.0)

        cases = {
            "no filter": {},
            "two filters": {"gender": "female", "color": "blue"},
            "text search": {"q": "red hair glasses"},
        }
        results: dict[str, dict[str, float]] = {}

        from gallery.page_cache import gallery_changed as bump

        print(f"\n{'case':<34}{'cold p50':>10}{'cold p95':>10}{'warm p50':>10}{'warm p95':>10}   (server-side ms)")
        for kind, path, page_size, deep in (("page", "/gallery/", 48, page_deep), ("api", "/api/v1/avatars", 50, api_deep)):
            variants = {**cases, "first page": {}, "90% deep": None}
            for name, params in variants.items():
                if params is None:
                    params = {"after" if kind == "page" else "cursor": deep}
                if kind == "api":
                    params = {**params, "limit": page_size}
                url = requests.Request("GET", base + path, params=params).prepare().url
                server_times(session, url, 5)  # connections and code paths warmed
                cold = server_times(session, url, args.requests, before_each=bump)
                warm = server_times(session, url, args.requests)
                results[f"{kind} {name}"] = {"cold": percentile(cold, 0.95), "warm": percentile(warm, 0.95)}
                print(
                    f"{kind + ' ' + name:<34}{statistics.median(cold):>10.2f}{percentile(cold, 0.95):>10.2f}"
                    f"{statistics.median(warm):>10.2f}{percentile(warm, 0.95):>10.2f}"
                )

        api_rps, api_p95 = wrk_rps(first_page, args.seconds, args.connections)
        bare_rps, bare_p95 = wrk_rps(f"{base}/bench/bare", args.seconds, args.connections)
        print(f"\nthroughput over {args.seconds} s, {args.connections} connections, 2 workers ({bare_bytes} byte bodies):")
        print(f"  API first page of 50: {api_rps:8.0f} req/s   p95 {api_p95:6.2f} ms")
        print(f"  bare constant JSON:   {bare_rps:8.0f} req/s   p95 {bare_p95:6.2f} ms")

        # Visitors get the warm path (a page is rendered once per gallery version and shape); the
        # cold figures are what the first visitor after an import waits, printed alongside.
        worst = max(value["warm"] for value in results.values())
        worst_cold = max(value["cold"] for value in results.values())
        search_ms = max(query_ms["common word search"], query_ms["rare word search"], query_ms["absent word search"])
        deep_ratio = results["api 90% deep"]["cold"] / results["api first page"]["cold"]
        print(
            f"gallery p95_ms={worst:.2f} deep_ratio={deep_ratio:.2f} throughput_ratio={api_rps / bare_rps:.2f} cold_p95_ms={worst_cold:.2f}"
            f" api_rps={api_rps:.0f} api_p95_ms={api_p95:.2f} search_sql_ms={search_ms:.2f}"
            f" facet_recount_ms={facet_ms['library recount']:.2f}"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
