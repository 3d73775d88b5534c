"""
Avatars: the one place an uploaded image is judged, cleaned and stored.

The format is what Pillow decodes, never the file name or the declared content type, and
only the JPEG, PNG and WebP decoders are ever tried. The size in pixels is read from the
header and checked (`AVATAR_MAX_PIXELS`) before any pixel is decoded, so a decompression
bomb costs nothing. The image is then scaled down to at most `AVATAR_MAX_SIDE` pixels on
its longer side (never up) while it is decoded, at the lowest cost Pillow allows: a JPEG
is decoded by libjpeg at 1/2, 1/4 or 1/8 scale, and every other step works on the
smallest image it can, so the worst accepted upload stays within a bounded memory budget
(`make avatar-cost` measures it). It is re-encoded from its pixels alone (first frame,
orientation applied), so no metadata (EXIF and its GPS, XMP, ICC profiles, text chunks)
survives, and stored through Django's storage API under a random name with the extension
of its real format.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from PIL import ExifTags, Image, WebPImagePlugin

from config.api.exceptions import PayloadTooLarge

logger = logging.getLogger(__name__)

# Pillow format -> the extension it is stored under (config.api.uploads serves these).
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# The modes each format is stored in; anything else is converted (after scaling).
STORED_MODES = {
    "JPEG": ("L", "RGB"),
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA"),
    "WEBP": ("RGB", "RGBA"),
}
# Scaling: whole-factor reduction leaves Lanczos at least this ratio (Pillow's default of
# 2 doubles the resampling CPU of a 16 MP image for no visible gain at avatar sizes).
REDUCING_GAP = 1.5
# A WebP file's own pixel cap, below AVATAR_MAX_PIXELS: Pillow decodes WebP only through
# libwebp's animation decoder, which holds two full-size RGBA canvases while Pillow copies
# the frame out of them (12 bytes a pixel at the peak; `_webp_first_frame`), where JPEG and
# PNG need at most 4 or 5. 12 MP (a 4000 x 3000 photo) peaks near 140 MiB, within the
# 150 MiB that API.md allows one upload to add to a worker.
WEBP_MAX_PIXELS = 12_000_000
REDUCE_BAND_ROWS = 256
# EXIF orientation -> the transposition that makes the image upright (as ImageOps does).
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    extension: str


def _refuse(message: str) -> ValidationError:
    return ValidationError({"avatar": [message]})


def _open(upload: UploadedFile) -> Image.Image:
    upload.seek(0)
    with warnings.catch_warnings():
        # Pillow's own bomb warning starts at 89 megapixels; ours (AVATAR_MAX_PIXELS) is lower.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(upload, formats=list(FORMATS))
        except Exception as exc:  # any failure to identify the file is the client's
            raise _refuse("Upload a JPEG, PNG or WebP image.") from exc


def max_pixels(image_format: str) -> int:
    """The most pixels an avatar of this format may have."""
    if image_format == "WEBP":
        return min(settings.AVATAR_MAX_PIXELS, WEBP_MAX_PIXELS)
    return int(settings.AVATAR_MAX_PIXELS)


def _target_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` shrunk to fit `max_side` on its longer side, keeping its aspect ratio."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce_in_bands(image: Image.Image, factor: int, mode: str) -> Image.Image:
    """`image.convert(mode).reduce(factor)`, a band of rows at a time.

    Converting makes a full-size copy, and `reduce()` (as `resize()`) of an image with
    alpha first makes a premultiplied one, 4 bytes a pixel either way; a band of rows
    costs a sliver of that. Each band but the last is a whole number of `factor` rows
    high, so the bands' averages are the whole image's.
    """
    width, height = image.size
    reduced = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, REDUCE_BAND_ROWS // factor)
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height)))
        if band.mode != mode:
            band = band.convert(mode)
        reduced.paste(band.reduce(factor), (0, top // factor))
    return reduced


def _webp_first_frame(image: WebPImagePlugin.WebPImageFile) -> Image.Image:
    """The first frame of a WebP file, with two full-size copies fewer than `load()`.

    Pillow decodes WebP with libwebp's animation decoder, which holds two canvases (the
    frame, and the previous one kept for the next frame's blending); `load()` then keeps
    them, a bytes copy of the frame and its own image alive at once: four copies, 4 bytes
    a pixel each. Here the bytes become the image's own memory (`frombuffer` shares
    them) and the canvases are freed with the decoder, so three copies exist only while
    libwebp hands the frame out, and one afterwards. `_decoder` is the plugin's decoder,
    positioned at the first frame by `Image.open`.
    """
    decoder = image._decoder  # no public way to free libwebp's canvas
    frame = decoder.get_next()
    if frame is None:
        raise ValueError("the WebP frame does not decode")
    data = frame[0]
    del image._decoder, decoder  # frees both canvases
    # libwebp hands out RGBA, or RGBX for an opaque image: both are modes `frombuffer`
    # maps without a copy.
    rawmode = image.rawmode
    decoded = Image.frombuffer(rawmode, image.size, data, "raw", rawmode, 0, 1)
    decoded.info = dict(image.info)
    return decoded


def _pixels_only(image: Image.Image, image_format: str) -> Image.Image:
    """The first frame, scaled down, upright, in a mode the format stores, with no
    metadata attached.

    Memory is what an attacker buys with a small file of many pixels, so each step works
    on the smallest image it can: scaling happens before any mode conversion or rotation,
    and no full-size copy is made beyond the conversions commented below.
    """
    max_side = settings.AVATAR_MAX_SIDE
    image.seek(0)
    if isinstance(image, WebPImagePlugin.WebPImageFile):
        image = _webp_first_frame(image)
    else:
        # A JPEG is decoded by libjpeg at the smallest of 1/1, 1/2, 1/4 and 1/8 scale that
        # is still at least the target size; the other decoders ignore this.
        image.draft(None, _target_size(image.size, max_side))
        image.load()
    decoded_mode = image.mode
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    # Read before any conversion, which would drop it (EXIF, or XMP's tiff:Orientation).
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    # Scaling happens in a mode that resamples well: 16-bit grey as 32-bit integers (down
    # to 8 bits, 0-65535 onto 0-255, once it is small); palette and bilevel images in
    # colour or grey rather than by nearest neighbour; a transparent colour key as an
    # alpha channel, since resampling would blend the key colour into its neighbours.
    if decoded_mode.startswith("I;16"):
        working_mode = "I"
    elif decoded_mode in ("1", "L", "P", "RGB") and has_alpha:
        working_mode = "RGBA" if decoded_mode in ("P", "RGB") else "LA"
    elif decoded_mode in ("1", "P"):
        working_mode = "L" if decoded_mode == "1" else "RGB"
    else:
        working_mode = decoded_mode
    # Down by a whole factor first (box averaging, cheap), leaving at least REDUCING_GAP
    # for Lanczos, whose cost grows with the ratio it spans. The bands are converted one
    # by one, so no full-size copy in the working mode is ever made.
    factor = int(max(image.size) / max_side / REDUCING_GAP)
    if factor > 1:
        scaled = _reduce_in_bands(image, factor, working_mode)
    elif working_mode != decoded_mode:
        scaled = image.convert(working_mode)  # at most 1.5 x AVATAR_MAX_SIDE on a side
    else:
        scaled = image
    if scaled is not image:
        image.close()  # the full-size decoded pixels are not needed any more
    # In place, and never scaling up.
    scaled.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    if scaled.mode == "I":
        scaled = scaled.point(lambda value: value / 256, "L")
    transpose = ORIENTATIONS.get(orientation)
    upright = scaled.transpose(transpose) if transpose is not None else scaled
    if upright.mode not in STORED_MODES[image_format]:
        upright = upright.convert("RGBA" if has_alpha and image_format != "JPEG" else "RGB")
    if upright is image:
        # Small by now, and the caller closes the decoded file, pixels and all.
        upright = image.copy()
    # Only the pixels go on: encoders read metadata such as ICC profiles from `info`.
    upright.info = {}
    return upright


def avatar_clean(upload: UploadedFile) -> CleanImage:
    """Judge an upload and re-encode it; raise 400 (`details.avatar`) or 413."""
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if not upload.size:
        raise _refuse("The file is empty.")
    if upload.size > limit:
        raise PayloadTooLarge(
            f"Avatars are limited to {settings.MAX_UPLOAD_MB} MB",
            details={"avatar": [f"The file is larger than {settings.MAX_UPLOAD_MB} MB."]},
        )
    image = _open(upload)
    image_format = image.format or ""
    if image_format not in FORMATS:
        raise _refuse("Upload a JPEG, PNG or WebP image.")
    width, height = image.size
    limit = max_pixels(image_format)
    if width * height > limit:
        raise _refuse(f"The image is larger than {limit:,} pixels.")
    try:
        clean = _pixels_only(image, image_format)
    except Exception as exc:  # truncated or corrupt pixel data
        raise _refuse("The image is truncated or corrupt.") from exc
    finally:
        image.close()
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": 90} if image_format in ("JPEG", "WEBP") else {}
    clean.save(buffer, format=image_format, **options)
    return CleanImage(data=buffer.getvalue(), extension=FORMATS[image_format])


def avatar_store(image: CleanImage) -> str:
    """Store a cleaned image under a new random name; return the name."""
    return default_storage.save(f"{uuid.uuid4().hex}.{image.extension}", ContentFile(image.data))


def avatar_delete(name: str) -> None:
    """Delete a stored avatar; a file already gone is not an error."""
    if not name:
        return
    try:
        default_storage.delete(name)
    except OSError:
        logger.warning("could not delete avatar %s", name)


def avatar_url(name: str) -> str | None:
    """The absolute URL of a stored avatar, built from settings, never from the request."""
    if not name:
        return None
    return urljoin(settings.PUBLIC_URL.rstrip("/") + "/", default_storage.url(name))
