"""Gallery pages: the home page (it shows the library), the grid with filters, an avatar's page, and
counted downloads."""

from urllib.parse import urlencode

from django.core.files.storage import storages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_safe

from avatarsite.core.storage import attachment_url

from .forms import AvatarFilterForm
from .page_cache import cached_page
from .selectors import (
    AvatarFilters,
    InvalidCursor,
    avatar_download_get,
    avatar_facets,
    avatar_get,
    avatar_page,
    avatar_similar,
    library_summary,
    source_choices,
)
from .services import avatar_download_record, avatar_view_record

PAGE_SIZE = 48


def _source_choices() -> list[tuple[str, str]]:
    return cached_page("sources", (), source_choices)


def _grid(*, form: AvatarFilterForm, filters: AvatarFilters, after: str, kept: dict[str, str]) -> tuple[str, str, bool]:
    """The filter form and the grid's cards, rendered once per gallery version and request shape
    (most of a gallery page's cost; the per-visitor chrome around them is rendered each time)."""

    def build() -> tuple[str, str, bool]:
        page = avatar_page(filters=filters, after=after, limit=PAGE_SIZE)
        form.offer(avatar_facets(filters=filters))
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
def home(request: HttpRequest) -> HttpResponse:
    # The plans below the library come from billing's template tags (templates/gallery/home.html): gallery imports no billing.
    return render(request, "gallery/home.html", {"library": library_summary()})


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
    context = {
        "filters_html": filters_html,
        "cards": cards,
        "has_avatars": has_avatars,
        "notices": notices,
        "filtered": bool(kept),
        "library": library_summary(showcase=0),  # its sources, for the credit line
    }
    return render(request, "gallery/index.html", context)


@require_GET
def detail(request: HttpRequest, avatar_id: int) -> HttpResponse:
    avatar = avatar_get(avatar_id=avatar_id)
    if avatar is None:
        raise Http404("No such avatar")
    avatar_view_record()
    return render(request, "gallery/detail.html", {"avatar": avatar, "similar": avatar_similar(avatar=avatar)})


@require_safe
def download(request: HttpRequest, avatar_id: int, size: int, fmt: str) -> HttpResponse:
    """The file as a download named `avatar-<id>-<size>px.<ext>`: a redirect to a signed URL that
    says so (R2; the plain CDN URLs cannot), or the file itself (local files). A GET is counted
    once here (the signed URL is another host's); a HEAD is answered alike and not counted."""
    download = avatar_download_get(avatar_id=avatar_id, size=size, fmt=fmt)
    if download is None:
        raise Http404("No such size or format for this avatar")
    url = attachment_url(storage="public", key=download.key, filename=download.filename, method=request.method)
    if request.method == "GET":
        avatar_download_record(avatar_id=avatar_id)
    headers = {"Content-Disposition": content_disposition_header(True, download.filename), "Cache-Control": "no-store"}
    if url is not None:
        return HttpResponseRedirect(url, headers={"Cache-Control": "no-store"})
    storage = storages["public"]
    if request.method == "HEAD":
        return HttpResponse(content_type=download.content_type, headers={**headers, "Content-Length": str(storage.size(download.key))})
    with storage.open(download.key) as file:  # an avatar: a few hundred kilobytes at most, read whole (see generation's downloads)
        return HttpResponse(file.read(), content_type=download.content_type, headers=headers)
