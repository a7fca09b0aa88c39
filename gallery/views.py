"""Gallery pages: the grid with filters, an avatar's page, and counted downloads."""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .forms import AvatarFilterForm
from .models import Source
from .selectors import InvalidCursor, avatar_get, avatar_page, avatar_similar
from .services import avatar_download_record

PAGE_SIZE = 48


def _source_choices() -> list[tuple[str, str]]:
    return list(Source.objects.filter(enabled=True).order_by("name").values_list("slug", "name"))


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    form = AvatarFilterForm(request.GET, sources=_source_choices())
    filters, notices = form.to_filters()
    after = request.GET.get("after", "")
    try:
        page = avatar_page(filters=filters, after=after, limit=PAGE_SIZE)
    except InvalidCursor as exc:
        notices.append(str(exc))
        page = avatar_page(filters=filters, limit=PAGE_SIZE)
    kept = {key: value for key, value in request.GET.items() if key not in ("after", "partial") and key not in form.errors and value}
    context = {
        "form": form,
        "page": page,
        "notices": notices,
        "next_url": f"?{urlencode({**kept, 'after': page.next_cursor})}" if page.next_cursor else "",
        "filtered": bool(kept),
        "first_page": not after,
    }
    template = "gallery/_cards.html" if request.GET.get("partial") == "1" else "gallery/index.html"
    return render(request, template, context)


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
    variant = next((v for v in avatar.variants.all() if v.size == size and v.format == fmt), None) if avatar else None
    if variant is None:
        raise Http404("No such size or format for this avatar")
    avatar_download_record(avatar_id=avatar.pk)
    return HttpResponseRedirect(variant.url)
