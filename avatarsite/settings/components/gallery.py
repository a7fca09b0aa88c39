"""The gallery: premade sources (importers), scheduled imports, duplicates."""

from .core import OUTBOUND_ALLOW_LOOPBACK
from .env import env

# --- Premade sources (gallery importers) -------------------------------------------------------
# Base URLs without the version segment; tests point them at local fakes.
PEXELS_API_URL = env("PEXELS_API_URL", default="https://api.pexels.com")
PEXELS_API_KEY = env("PEXELS_API_KEY", default="")
GENERATED_PHOTOS_API_URL = env("GENERATED_PHOTOS_API_URL", default="https://api.generated.photos")
GENERATED_PHOTOS_API_KEY = env("GENERATED_PHOTOS_API_KEY", default="")
# A scheduled gallery import has its own limit (a run cut off resumes where it stopped next time).
GALLERY_IMPORT_TIME_LIMIT_SECONDS = env.int("GALLERY_IMPORT_TIME_LIMIT_SECONDS", default=840)
GALLERY_IMPORT_SCHEDULE_HOURS = env.int("GALLERY_IMPORT_SCHEDULE_HOURS", default=6)
GALLERY_IMPORTERS = {
    "pexels": {
        "BACKEND": "gallery.importers.pexels.PexelsImporter",
        "OPTIONS": {
            "api_url": PEXELS_API_URL,
            "api_key": PEXELS_API_KEY,
            "image_hosts": env.list("PEXELS_IMAGE_HOSTS", default=["images.pexels.com"]),
            "allow_loopback": OUTBOUND_ALLOW_LOOPBACK,
        },
    },
    "generated_photos": {
        "BACKEND": "gallery.importers.generated_photos.GeneratedPhotosImporter",
        "OPTIONS": {
            "api_url": GENERATED_PHOTOS_API_URL,
            "api_key": GENERATED_PHOTOS_API_KEY,
            "image_hosts": env.list("GENERATED_PHOTOS_IMAGE_HOSTS", default=["images.generated.photos"]),
            "allow_loopback": OUTBOUND_ALLOW_LOOPBACK,
        },
    },
}
# Imports the beat scheduler refreshes (batch queue), as JSON, e.g.
# [{"source": "pexels", "query": "portrait", "limit": 160, "filters": {"orientation": "portrait"}}]
GALLERY_SCHEDULED_IMPORTS = env.json("GALLERY_SCHEDULED_IMPORTS", default=[])
# Hashes within this many bits (of 64) are the same picture, whatever the source.
GALLERY_DUPLICATE_MAX_DISTANCE = 3
# Stop a run while this many requests are left in the source's rate-limit window.
GALLERY_RATE_LIMIT_RESERVE = env.int("GALLERY_RATE_LIMIT_RESERVE", default=2)
# What draws the demo library (gallery/demo.py): a class made with no arguments, loaded by this path so
# that gallery never imports generation; the local generator, through its adapter.
GALLERY_DEMO_DRAWER = "generation.demo_drawer.LocalDemoDrawer"
