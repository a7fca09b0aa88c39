"""What every page may say about generation on this site: whether AI photos can be made here at all."""

from django.http import HttpRequest

from .styles import LOCAL_STYLES, ai_providers_set_up


def generation_offer(request: HttpRequest) -> dict:
    """`ai_photos_available` is false on a site with no AI service set up (the embedded default), so a
    page never promises AI avatars the site cannot make; the instant styles are always there."""
    return {"ai_photos_available": bool(ai_providers_set_up()), "instant_style_count": len(LOCAL_STYLES)}
