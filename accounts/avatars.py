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
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from PIL import ExifTags, Image
from rest_framework.exceptions import ValidationError

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


def _target_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` shrunk to fit `max_side` on its longer side, keeping its aspect ratio."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _pixels_only(image: Image.Image, image_format: str) -> Image.Image:
    """The first frame, scaled down, upright, in a mode the format stores, with no
    metadata attached.

    Memory is what an attacker buys with a small file of many pixels, so each step works
    on the smallest image it can: scaling happens before any mode conversion or rotation,
    and no full-size copy is made beyond the conversions commented below.
    """
    image.seek(0)
    max_side = settings.AVATAR_MAX_SIDE
    # A JPEG is decoded by libjpeg at the smallest of 1/1, 1/2, 1/4 and 1/8 scale that is
    # still at least the target size; the other decoders ignore this.
    image.draft(None, _target_size(image.size, max_side))
    image.load()
    decoded_mode = image.mode
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    transparency = image.info.get("transparency") if decoded_mode in ("L", "RGB") else None
    # Read before any conversion, which would drop it (EXIF, or XMP's tiff:Orientation).
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    scaled = image
    if decoded_mode.startswith("I;16"):
        # 16-bit grey cannot be resampled as it is: widen it (4 bytes a pixel) and bring
        # it down to 8 bits, mapping 0-65535 onto 0-255, once it is small.
        scaled = image.convert("I")
    elif decoded_mode in ("P", "1"):
        # Palette and bilevel images would be resampled by nearest neighbour; in colour
        # or grey they scale smoothly (a palette image then costs 4 bytes a pixel).
        scaled = image.convert(("RGBA" if has_alpha else "RGB") if decoded_mode == "P" else "L")
    if scaled is not image:
        image.close()  # the full-size decoded pixels are not needed any more
    # In place and never scaling up: reduce() by a whole factor first, then resample.
    scaled.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if scaled.mode == "I":
        scaled = scaled.point(lambda value: value / 256, "L")
    transpose = ORIENTATIONS.get(orientation)
    upright = scaled.transpose(transpose) if transpose is not None else scaled
    if upright.mode not in STORED_MODES[image_format]:
        upright = upright.convert("RGBA" if has_alpha and image_format != "JPEG" else "RGB")
    # Only the pixels (and a colour key for transparency) go on: encoders read metadata
    # such as ICC profiles from `info`, so it is emptied.
    if upright is image:
        # Small by now, and the caller closes the decoded file, pixels and all.
        upright = image.copy()
    keep = transparency is not None and upright.mode == decoded_mode
    upright.info = {"transparency": transparency} if keep else {}
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
    if width * height > settings.AVATAR_MAX_PIXELS:
        raise _refuse(f"The image is larger than {settings.AVATAR_MAX_PIXELS:,} pixels.")
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
