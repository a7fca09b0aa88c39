"""Image handling for imports: safe decoding, a face-friendly square crop, variants, hashes.

Plain Pillow, no Django. Every stored image is re-encoded from decoded pixels, or (a generated
JPEG already at its stored size, `jpeg_image_data`) rebuilt from its image segments alone, so
nothing of the input file (metadata, trailing bytes, a crafted container) reaches our storage.
"""

import base64
import colorsys
import io
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageOps

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # a 40 MP photo; more is a decompression bomb for our purpose
VARIANT_SIZES = (64, 128, 256, 512, 1024)
VARIANT_FORMATS = ("webp", "jpeg")
_PIL_FORMAT = {"webp": "WEBP", "jpeg": "JPEG"}


class UnsafeImageError(ValueError):
    """The bytes are not an image we accept (type, size, dimensions or integrity)."""


@dataclass(frozen=True)
class RenderedVariant:
    size: int
    format: str
    data: bytes


def decode_image(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode untrusted bytes into an RGB image, refusing anything outside our limits before decoding it."""
    if len(data) > max_bytes:
        raise UnsafeImageError(f"image is {len(data)} bytes, over the {max_bytes} byte limit")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ALLOWED_FORMATS:
                raise UnsafeImageError(f"format {probe.format} is not accepted")
            width, height = probe.size
            if width * height > max_pixels:
                raise UnsafeImageError(f"image declares {width}x{height} pixels, over the {max_pixels} pixel limit")
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnsafeImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard fires at open for the very largest
        raise UnsafeImageError(f"image declares too many pixels, over the pixel limit ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsafeImageError(f"not a readable image: {exc}") from exc
    image = ImageOps.exif_transpose(image)
    return image.convert("RGB")


# JPEG markers (ITU T.81 B.1.1.3) kept in a rebuilt file: tables, frame headers and scans.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended and progressive Huffman: what browsers show
_JPEG_TABLES = frozenset({0xC4, 0xDB, 0xDD})  # DHT, DQT, DRI
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
# The header Pillow writes: JFIF 1.1, no density, no thumbnail. Without a JFIF (or Adobe) segment a
# decoder still takes three components as YCbCr, but this leaves nothing to guess.
_JFIF_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def jpeg_image_data(data: bytes, *, max_side: int, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, int] | None:
    """A JPEG that is already what we would store, ready to store as it is: (bytes, side).

    That is a square colour picture of at most `max_side` pixels a side, upright, which reads to
    the end: it is decoded at an eighth of its size, which still reads every coefficient, so a
    damaged or truncated file is refused as `decode_image` refuses it, at a fraction of the cost.
    The bytes are rebuilt from its image segments alone (quantisation and Huffman tables, frame
    header and scans, under a plain JFIF header): metadata (EXIF, XMP, ICC, comments, every APPn
    segment) and anything after the end of the image are dropped, and the pixels are not decoded
    and encoded again. None for anything else (another format, shape or colour model, an EXIF
    rotation, an Adobe colour transform, an unusual marker, an unreadable file): the caller then
    decodes it with `decode_image` (which says what is wrong) and encodes it itself."""
    if len(data) > max_bytes or data[:2] != b"\xff\xd8":
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            side = image.width
            if image.format != "JPEG" or image.mode != "RGB" or image.height != side or side > max_side:
                return None
            if image.getexif().get(ExifTags.Base.Orientation, 1) != 1 or "adobe" in image.info:
                return None
            image.draft("RGB", (side // 8, side // 8))
            image.load()
    except Exception:  # whatever is wrong with it, decode_image says so in the caller's path
        return None
    rebuilt = _jpeg_image_segments(data)
    return None if rebuilt is None else (rebuilt, side)


def _jpeg_image_segments(data: bytes) -> bytes | None:
    """The JPEG rebuilt from SOI, a plain JFIF header, its tables, frame header and scans, and EOI;
    None when it holds a marker other than those and APPn/COM (dropped)."""
    kept, position, end = [b"\xff\xd8", _JFIF_APP0], 2, len(data)
    while True:
        if position + 2 > end or data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
            continue
        if marker == _JPEG_EOI:
            kept.append(b"\xff\xd9")
            return b"".join(kept)
        if position + 4 > end:
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment_end = position + 2 + length
        if length < 2 or segment_end > end:
            return None
        if marker in _JPEG_SOF or marker in _JPEG_TABLES or marker == _JPEG_SOS:
            kept.append(data[position:segment_end])
        elif not (0xE0 <= marker <= 0xEF or marker == 0xFE):  # APPn and COM are dropped; anything else: not ours to judge
            return None
        position = segment_end
        if marker == _JPEG_SOS:  # entropy-coded data up to the next marker (not a stuffed 0xFF00, nor a restart)
            scan = position
            while True:
                position = data.find(b"\xff", position)
                if position < 0 or position + 1 >= end:
                    return None
                following = data[position + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    position += 2
                elif following == 0xFF:
                    position += 1
                else:
                    break
            kept.append(data[scan:position])


def square_crop(image: Image.Image) -> Image.Image:
    """The largest square, centred across and set high on portraits, where faces usually are."""
    width, height = image.size
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 4 if height > width else 0
    return image.crop((left, top, left + side, top + side))


def difference_hash(image: Image.Image) -> int:
    """64-bit dHash: robust to resizing and recompression, so copies of a photo hash alike."""
    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()  # one byte per pixel in mode L
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | (1 if left > right else 0)
    return bits


def hamming_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hash_bands(value: int) -> tuple[int, int, int, int]:
    """The 64-bit hash as four 16-bit bands, each stored signed-safe below 2**16."""
    return tuple((value >> shift) & 0xFFFF for shift in (48, 32, 16, 0))  # type: ignore[return-value]


def dominant_color(image: Image.Image) -> str:
    """The most common colour of a small quantised copy, as #rrggbb."""
    small = image.resize((48, 48)).quantize(colors=6)
    palette = small.getpalette() or [0, 0, 0]
    _, index = max(small.getcolors() or [(1, 0)])
    red, green, blue = palette[index * 3 : index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


COLOR_FAMILIES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray")


def color_family(hex_color: str) -> str:
    """A coarse colour name for a #rrggbb value, so visitors can filter by background colour."""
    red, green, blue = (int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    if lightness < 0.18:
        return "black"
    if lightness > 0.88:
        return "white"
    if saturation < 0.18:
        return "gray"
    degrees = hue * 360
    if (degrees < 15 or degrees >= 345) and lightness < 0.35:
        return "brown"
    if 15 <= degrees < 45:
        return "brown" if lightness < 0.45 else "orange"
    for upper, name in ((15, "red"), (65, "yellow"), (170, "green"), (255, "blue"), (310, "purple"), (345, "pink")):
        if degrees < upper:
            return name
    return "red"


def placeholder_data_uri(image: Image.Image) -> str:
    """A 16 px WebP, a few hundred bytes, shown blurred while the real image loads."""
    buffer = io.BytesIO()
    image.resize((16, 16), Image.Resampling.BILINEAR).save(buffer, "WEBP", quality=40)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()


def render_variant(square: Image.Image, *, size: int, fmt: str) -> RenderedVariant:
    """One size in one format, encoded as every variant is (so the same pixels give the same bytes)."""
    resized = square if square.width == size else square.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, _PIL_FORMAT[fmt], quality=85 if fmt == "jpeg" else 82, optimize=fmt == "jpeg")
    return RenderedVariant(size=size, format=fmt, data=buffer.getvalue())


def variant_sizes(*, side: int, max_size: int, sizes: tuple[int, ...] = VARIANT_SIZES) -> list[int]:
    """Every size up to the smaller of the source's side and the licence's limit; a source smaller
    than the smallest size still yields one (upscaled) variant."""
    limit = min(max_size, side)
    return [s for s in sizes if s <= limit] or [min(sizes)]


def render_variants(square: Image.Image, *, max_size: int, sizes: tuple[int, ...] = VARIANT_SIZES) -> list[RenderedVariant]:
    """Every size up to the smaller of the source's side and the licence's limit, in WebP and JPEG."""
    return [
        render_variant(square, size=size, fmt=fmt)
        for size in variant_sizes(side=square.width, max_size=max_size, sizes=sizes)
        for fmt in VARIANT_FORMATS
    ]
