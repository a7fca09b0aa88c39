"""Text search pages (PostgreSQL): whichever plan first_matching picks for a word (common, mid,
rare or absent), its pages are exactly the matches in sort order, across cursors; and a rare word
is found through the text index, never by walking the whole sort index."""

import re
from datetime import timedelta

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery import queries
from gallery.models import Avatar
from gallery.selectors import SORTS, AvatarFilters, avatar_page

pytestmark = pytest.mark.django_db

# On 600 rows, with a window of 40 rows and a budget of 200: "common" fills a page inside the
# window, "mid" continues along the sort index, "rare" and "absent" go through the text index.
ROWS = 600
WORDS_EVERY = {"common": 2, "mid": 9, "rare": 250}


def _unindexed_order_used(queries: list[dict]) -> bool:
    return any(re.search(r"\+ '0:00:00'::interval|\+ 0\)", query["sql"]) for query in queries)


@pytest.fixture
def library(avatars, monkeypatch):
    """ROWS avatars with distinct times and download counts; the words spread evenly."""
    monkeypatch.setattr(queries, "SEARCH_WINDOW", 40)
    monkeypatch.setattr(queries, "ORDERED_SCAN_BUDGET", 200)
    template = avatars[0]
    copied = [f.attname for f in Avatar._meta.concrete_fields if f.attname not in ("id", "search", "external_id", "title", "tags")]
    rows = []
    for n in range(ROWS):
        words = [word for word, every in WORDS_EVERY.items() if n % every == 0]
        fields = {name: getattr(template, name) for name in copied}
        rows.append(Avatar(**fields, external_id=f"w-{n}", title=" ".join(["portrait", *words]), tags=[]))
    Avatar.objects.bulk_create(rows)
    for n, avatar in enumerate(Avatar.objects.filter(external_id__startswith="w-").order_by("id")):
        avatar.created_at = template.created_at - timedelta(minutes=n * 7 % ROWS)
        avatar.download_count = (n * 13) % 97
        avatar.save(update_fields=["created_at", "download_count"])


def _expected(word: str, sort: str) -> list[int]:
    field, tiebreak = SORTS[sort]
    query = SearchQuery(word, search_type="websearch", config="english")
    matching = Avatar.objects.filter(search=query, source__enabled=True).order_by(f"-{field}", f"-{tiebreak}")
    return list(matching.values_list("pk", flat=True))


@pytest.mark.parametrize("sort", ["newest", "popular"])
@pytest.mark.parametrize(("word", "through_text_index"), [("common", False), ("mid", False), ("rare", True), ("absent", True)])
def test_every_plan_pages_through_exactly_the_matches_in_order(library, sort, word, through_text_index):
    expected = _expected(word, sort)
    seen, cursor, first_queries = [], "", None
    while True:
        with CaptureQueriesContext(connection) as captured:
            page = avatar_page(filters=AvatarFilters(q=word, sort=sort), after=cursor, limit=10)
        first_queries = first_queries or captured.captured_queries
        seen += [a.pk for a in page.avatars]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == expected
    assert len(expected) == {"common": 300, "mid": 67, "rare": 3, "absent": 0}[word]
    assert _unindexed_order_used(first_queries) is through_text_index


def test_the_window_is_read_as_ids_and_flags_and_the_page_by_key(library):
    with CaptureQueriesContext(connection) as captured:
        page = avatar_page(filters=AvatarFilters(q="common"), limit=10)

    window, rows, renditions = (query["sql"] for query in captured.captured_queries)
    assert "LIMIT 40" in window
    assert "@@" in window  # the match flag, computed for each row of the window
    assert "LIMIT" not in rows  # by primary key: nothing for a plan to walk an index for
    assert "gallery_avatarvariant" in renditions
    assert len(page.avatars) == 10


def test_a_rare_word_on_20000_rows_uses_the_text_index_and_no_scan_of_the_table(avatars):
    """Search walks an index, never the table: planner statistics guess a word outside them is common; the page must
    still not walk the table (the benchmark shows the same on a million rows, in ms)."""
    template = avatars[0]
    copied = [f.attname for f in Avatar._meta.concrete_fields if f.attname not in ("id", "search", "external_id", "title", "tags")]
    words = ["smiling", "serious", "laughing", "calm"]
    fields = {name: getattr(template, name) for name in copied}
    Avatar.objects.bulk_create(
        (Avatar(**fields, external_id=f"bulk-{n}", title=f"{words[n % 4]} {n}", tags=[]) for n in range(20_000)), batch_size=2000
    )
    Avatar.objects.filter(external_id="bulk-7").update(title="astronaut on the moon")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE gallery_avatar SET created_at = created_at - (id * interval '1 second')")
        cursor.execute("ANALYZE gallery_avatar")

    with CaptureQueriesContext(connection) as captured:
        page = avatar_page(filters=AvatarFilters(q="astronaut"), limit=48)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))

    assert [a.external_id for a in page.avatars] == ["bulk-7"]
    assert any("gallery_avatar_search_gin" in plan for plan in plans), plans
    assert not any("Seq Scan on gallery_avatar " in plan + " " for plan in plans), plans
    window = plans[0]
    assert "Limit" in window
    assert "Index Scan using gallery_avatar_newest" in window, window


def test_avatars_related_to_a_prompt_share_its_telling_words_first_then_the_most_downloaded(library):
    from gallery.selectors import avatar_related_to_text

    related = avatar_related_to_text(text="A rare portrait of the zebra kind", limit=6)
    by_downloads = Avatar.objects.order_by("-download_count", "-id")
    rare = list(by_downloads.filter(title__contains="rare").values_list("pk", flat=True))
    popular = list(by_downloads.exclude(pk__in=rare).values_list("pk", flat=True)[:6])
    # "portrait" is in every title and says nothing; "rare" is the word these share with the prompt.
    assert len(rare) == 3
    assert [a.pk for a in related] == (rare + popular)[:6]

    nothing_shared = avatar_related_to_text(text="something zebra", limit=6)
    assert [a.pk for a in nothing_shared] == list(by_downloads.values_list("pk", flat=True)[:6])
