"""
Avatars: the one place an uploaded image is judged, cleaned and stored.

The format is what Pillow decodes, never the file name or the declared content type, and
only the JPEG, PNG and WebP decoders are ever tried. The size in pixels is read from the
header and checked before any pixel is decoded, so a decompression bomb costs nothing.
The image is then re-encoded from its pixels alone (first frame, orientation applied), so
no metadata (EXIF and its GPS, XMP, ICC profiles, text chunks) survives, and stored
through Django's storage API under a random name with the extension of its real format.
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
from PIL import Image, ImageOps
from rest_framework.exceptions import ValidationError

from config.api.exceptions import PayloadTooLarge

logger = logging.getLogger(__name__)

# Pillow format -> the extension it is stored under (config.api.uploads serves these).
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    extension: str


def _refuse(message: str) -> ValidationError:
    return ValidationError({"avatar": [message]})


def _open(upload: UploadedFile) -> Image.Image:
    upload.seek(0)
    with warnings.catch_warnings():
        # Pillow's own bomb warning starts at 89 megapixels; ours is the lower limit below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(upload, formats=list(FORMATS))
        except Exception as exc:  # any failure to identify the file is the client's
            raise _refuse("Upload a JPEG, PNG or WebP image.") from exc


def _pixels_only(image: Image.Image, image_format: str) -> Image.Image:
    """The first frame, upright, in a mode the format stores, with no metadata attached."""
    image.seek(0)
    image.load()
    upright = ImageOps.exif_transpose(image)
    has_alpha = "A" in upright.getbands() or "transparency" in upright.info
    if image_format == "JPEG":
        keep: tuple[str, ...] = ("L", "RGB")
    elif image_format == "PNG":
        keep = ("1", "L", "LA", "P", "RGB", "RGBA")
    else:
        keep = ("RGB", "RGBA")
    if upright.mode not in keep:
        upright = upright.convert("RGBA" if has_alpha and image_format != "JPEG" else "RGB")
    # Only the pixels (and a palette's transparency) go on: encoders read metadata such
    # as ICC profiles from `info`, so it is emptied.
    clean = upright.copy()
    transparency = upright.info.get("transparency")
    clean.info = {} if transparency is None else {"transparency": transparency}
    return clean


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
    if width * height > MAX_PIXELS:
        raise _refuse("The image is larger than 40 megapixels.")
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
