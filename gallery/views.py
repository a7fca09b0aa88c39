"""Gallery pages: the grid with filters, an avatar's page, and counted downloads."""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from .forms import AvatarFilterForm
from .page_cache import cached_page
from .selectors import AvatarFilters, InvalidCursor, avatar_get, avatar_page, avatar_similar, source_choices
from .services import avatar_download_record

PAGE_SIZE = 48


def _source_choices() -> list[tuple[str, str]]:
    return cached_page("sources", (), source_choices)


def _grid(*, form: AvatarFilterForm, filters: AvatarFilters, after: str, kept: dict[str, str]) -> tuple[str, str, bool]:
    """The filter form and the grid's cards, rendered once per gallery version and request shape
    (most of a gallery page's cost; the per-visitor chrome around them is rendered each time)."""

    def build() -> tuple[str, str, bool]:
        page = avatar_page(filters=filters, after=after, limit=PAGE_SIZE)
        context = {
            "page": page,
            "next_url": f"?{urlencode({**kept, 'after': page.next_cursor})}" if page.next_cursor else "",
            "first_page": not after,
            "form": form,
            "filtered": bool(kept),
        }
        return render_to_string("gallery/_filters.html", context), render_to_string("gallery/_cards.html", context), bool(page.avatars)

    return cached_page("grid", (sorted(form.data.items()), filters, after, sorted(kept.items())), build)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    form = AvatarFilterForm(request.GET, sources=_source_choices())
    filters, notices = form.to_filters()
    after = request.GET.get("after", "")
    kept = {key: value for key, value in request.GET.items() if key not in ("after", "partial") and key not in form.errors and value}
    try:
        filters_html, cards, has_avatars = _grid(form=form, filters=filters, after=after, kept=kept)
    except InvalidCursor as exc:
        notices.append(str(exc))
        filters_html, cards, has_avatars = _grid(form=form, filters=filters, after="", kept=kept)
    if request.GET.get("partial") == "1":
        return HttpResponse(cards)
    context = {"filters_html": filters_html, "cards": cards, "has_avatars": has_avatars, "notices": notices, "filtered": bool(kept)}
    return render(request, "gallery/index.html", context)


@require_GET
def detail(request: HttpRequest, avatar_id: int) -> HttpResponse:
    avatar = avatar_get(avatar_id=avatar_id)
    if avatar is None:
        raise Http404("No such avatar")
    return render(request, "gallery/detail.html", {"avatar": avatar, "similar": avatar_similar(avatar=avatar)})


@require_GET
def download(request: HttpRequest, avatar_id: int, size: int, fmt: str) -> HttpResponse:
    """Count the download, then send the browser to the CDN file: Django never streams image bytes."""
    avatar = avatar_get(avatar_id=avatar_id)
    variant = next((r for r in avatar.renditions if r.size == size and r.format == fmt), None) if avatar else None
    if variant is None:
        raise Http404("No such size or format for this avatar")
    avatar_download_record(avatar_id=avatar.pk)
    return HttpResponseRedirect(variant.url)
