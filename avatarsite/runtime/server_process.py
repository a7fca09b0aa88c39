"""What a server process (a web server process, a Celery prefork child) sets up once, as it starts.

Its lifelong objects are made and frozen out of the garbage collector's sight. A full collection
walks every object the process holds: about 150,000 in a web process and 230,000 in a worker
(Django's, boto3's), 50 to 160 ms measured here, a pause in the middle of whatever request or job
is running. `gc.freeze()` moves them to a generation the collector never walks; they are never
garbage, so nothing is lost.

The memory of decoded images is kept for reuse. Pillow gives an image's memory back to the system
when the image goes, by default, and the next image of that size is faulted in again page by page:
in the benchmark's worker a 1024 px result took 4.6 ms to decode at the median, 2.3 with the memory
kept, on the way to every generated result. A few blocks (at most 16 MiB each) are kept instead;
an operator's PILLOW_BLOCKS_MAX, which Pillow reads itself, wins.

Threads take turns more often. Each process runs a few threads beside the one doing the work (a
worker: the upload thread, the notifier's event loop, a provider's status stream; a web process:
the event loop and the threads of sync views). A thread whose socket has answered waits for the
one holding the GIL to let go, which Python asks of it only every switch interval, 5 ms by
default: a database answer or a provider's event could wait that long behind a signing or an
encoding. At 0.5 ms the worker's run from the provider's end to the user's `succeeded` was 2 to 3 ms
shorter in the benchmark (interleaved runs); the extra switches cost nothing measurable.
"""

import gc
import os
import sys

from . import upstream

IMAGE_MEMORY_BLOCKS_KEPT = 4
THREAD_SWITCH_INTERVAL_SECONDS = 0.0005


def server_process_setup() -> None:
    """Make what the process would otherwise make on first use (the S3 client, the channel layer)
    and freeze everything it holds; keep decoded images' memory; let threads switch sooner."""
    from channels.layers import get_channel_layer
    from django.core.files.storage import storages

    from .s3 import R2Storage

    for alias in ("default", "public"):
        if isinstance(storages[alias], R2Storage):
            storages[alias].connection  # noqa: B018 - made now, so it is frozen with the rest
    get_channel_layer()
    if "PILLOW_BLOCKS_MAX" not in os.environ:
        upstream.pillow_blocks_max_set(IMAGE_MEMORY_BLOCKS_KEPT)
    sys.setswitchinterval(THREAD_SWITCH_INTERVAL_SECONDS)
    gc.freeze()
