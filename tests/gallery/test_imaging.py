"""Untrusted image bytes: refused before decoding when unsafe, always re-encoded when kept."""

import io

import pytest
from PIL import Image, PngImagePlugin

from gallery import imaging
from tests.fakes.pexels import pattern_image

pytestmark = pytest.mark.fast


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def test_a_small_png_declaring_20000_by_20000_pixels_is_refused_before_decoding():
    bomb = _encode(Image.new("1", (20000, 20000)), "PNG")

    assert len(bomb) < 100_000
    with pytest.raises(imaging.UnsafeImageError, match="pixel limit"):
        imaging.decode_image(bomb)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_formats_outside_the_allowlist_are_refused(fmt):
    with pytest.raises(imaging.UnsafeImageError, match="not accepted"):
        imaging.decode_image(_encode(Image.new("RGB", (64, 64), "red"), fmt))


def test_svg_and_other_non_images_are_refused():
    with pytest.raises(imaging.UnsafeImageError):
        imaging.decode_image(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')


def test_truncated_and_oversized_inputs_are_refused():
    with pytest.raises(imaging.UnsafeImageError):
        imaging.decode_image(pattern_image(1)[:500])
    with pytest.raises(imaging.UnsafeImageError, match="byte limit"):
        imaging.decode_image(pattern_image(1), max_bytes=1000)


def test_stored_variants_are_re_encoded_without_exif():
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPS latitude
    original = _encode(Image.open(io.BytesIO(pattern_image(3, size=(512, 512)))), "JPEG", exif=exif.tobytes())

    square = imaging.square_crop(imaging.decode_image(original))
    variants = imaging.render_variants(square, max_size=512)

    for variant in variants:
        assert variant.data != original
        reopened = Image.open(io.BytesIO(variant.data))
        assert dict(reopened.getexif()) == {}
        assert b"SecretCameraMaker" not in variant.data


SECRET = b"SECRET-FROM-THE-SOURCE"


def _with_metadata(fmt: str) -> bytes:
    """A 512 px image carrying every kind of metadata its format can hold, each with SECRET in it."""
    image = Image.open(io.BytesIO(pattern_image(4, size=(512, 512))))
    exif = Image.Exif()
    exif[0x010F] = SECRET.decode()  # Make
    common = {"exif": exif.tobytes(), "icc_profile": b"ICC" + SECRET}
    if fmt == "JPEG":
        return _encode(image, fmt, comment=SECRET, dpi=(300, 300), xmp=b"<x>" + SECRET + b"</x>", **common)
    if fmt == "WEBP":
        return _encode(image, fmt, xmp=b"<x>" + SECRET + b"</x>", **common)
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", SECRET.decode())
    return _encode(image, fmt, pnginfo=text, **common)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_nothing_but_the_pixels_survives_the_re_encoding(fmt):
    """Comments, EXIF, XMP, colour profiles and text chunks are all left behind, at the source's
    own size (no resize) and below it. Pillow writes a JPEG's comment back by default."""
    original = _with_metadata(fmt)
    assert SECRET in original

    square = imaging.square_crop(imaging.decode_image(original))
    variants = imaging.render_variants(square, max_size=512)

    assert {variant.size for variant in variants} >= {512, 256}
    for variant in variants:
        assert SECRET not in variant.data
        # What the decoder reports of any file of this format (e.g. a JPEG's JFIF header), and nothing more.
        plain = Image.open(io.BytesIO(imaging.render_variant(Image.new("RGB", (64, 64)), size=64, fmt=variant.format).data))
        assert Image.open(io.BytesIO(variant.data)).info.keys() == plain.info.keys()


def test_a_jpeg_without_the_optimising_pass_has_the_same_pixels_in_other_bytes():
    """The second pass only chooses better Huffman tables: the image is the same (the pipeline
    skips it for the result it is waiting on)."""
    square = imaging.square_crop(imaging.decode_image(_with_metadata("JPEG")))

    optimised = imaging.render_variant(square, size=256, fmt="jpeg")
    plain = imaging.render_variant(square, size=256, fmt="jpeg", optimize=False)

    assert plain.data != optimised.data
    assert len(plain.data) > len(optimised.data)
    assert Image.open(io.BytesIO(plain.data)).tobytes() == Image.open(io.BytesIO(optimised.data)).tobytes()
    webp = imaging.render_variant(square, size=256, fmt="webp")
    assert imaging.render_variant(square, size=256, fmt="webp", optimize=False).data == webp.data  # a JPEG option only


def test_the_square_crop_keeps_the_upper_part_of_a_portrait():
    portrait = Image.new("RGB", (100, 200), "white")
    portrait.paste((255, 0, 0), (0, 25, 100, 125))  # the face band, a quarter of the spare height down

    square = imaging.square_crop(portrait)

    assert square.size == (100, 100)
    assert square.getpixel((50, 50)) == (255, 0, 0)
    assert imaging.square_crop(square) is square  # nothing to cut: no copy


def test_resized_and_recompressed_copies_hash_alike_and_different_pictures_do_not():
    picture = imaging.decode_image(pattern_image(5))
    copy = imaging.decode_image(_encode(picture.resize((300, 450)), "WEBP", quality=60))
    other = imaging.decode_image(pattern_image(6))

    def dhash(image):
        return imaging.difference_hash(imaging.square_crop(image))

    assert imaging.hamming_distance(dhash(picture), dhash(copy)) <= 3
    assert imaging.hamming_distance(dhash(picture), dhash(other)) > 10
