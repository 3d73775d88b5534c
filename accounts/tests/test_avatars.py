"""Avatars: judged by their bytes, re-encoded without metadata, stored under random names,
served safely at /uploads/."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from PIL import Image

from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.images import image_bytes, noise_png, upload
from config.api.uploads import CappedUploadHandler
from config.testing import assert_error, bearer, login_pair
from tokens.realms import USER

pytestmark = pytest.mark.django_db

STORED_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png|webp)")


@pytest.fixture
def user() -> User:
    return make_user(username="ada", email="ada@example.com")


@pytest.fixture
def auth(api, user) -> dict[str, str]:
    return bearer(login_pair(api, USER, "ada")["access_token"])


def media_files(settings) -> list[Path]:
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


def put_avatar(api, auth, data: bytes, name: str = "avatar.png", content_type="image/png", **extra):
    return api.put(
        "/api/v1/users/me/avatar",
        {"avatar": upload(data, name, content_type)},
        format="multipart",
        **auth,
        **extra,
    )


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.parametrize(
    ("image_format", "extension", "content_type"),
    [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")],
)
def test_each_accepted_format_is_stored_as_itself_and_served_with_its_type(
    api, auth, user, settings, image_format, extension, content_type
):
    response = put_avatar(api, auth, image_bytes(image_format), name="whatever.bin")

    assert response.status_code == 200, response.content
    url = response.json()["data"]["avatar_url"]
    assert url.startswith(settings.PUBLIC_URL + "/uploads/")
    [stored] = media_files(settings)
    assert STORED_NAME.fullmatch(stored.name)
    assert stored.suffix == f".{extension}"
    assert Image.open(stored).format == image_format
    served = api.get(path_of(url))
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == stored.read_bytes()


def test_exif_with_gps_and_a_camera_serial_is_dropped(api, auth, settings):
    exif = Image.Exif()
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif[0x010F] = "CameraMaker"
    gps = exif.get_ifd(0x8825)
    gps[2] = (52.0, 31.0, 12.0)  # GPSLatitude
    gps[1] = "N"
    data = image_bytes("JPEG", exif=exif.tobytes(), xmp=b"<x:xmpmeta>secret</x:xmpmeta>")
    assert b"SERIAL-123456" in data

    assert put_avatar(api, auth, data, name="photo.jpg").status_code == 200

    [stored] = media_files(settings)
    raw = stored.read_bytes()
    assert b"SERIAL-123456" not in raw
    assert b"CameraMaker" not in raw
    assert b"xmpmeta" not in raw
    image = Image.open(stored)
    assert not image.getexif()
    assert "exif" not in image.info
    assert "icc_profile" not in image.info


def test_an_exif_rotated_image_is_stored_upright(api, auth, settings):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    data = image_bytes("JPEG", size=(80, 20), exif=exif.tobytes())

    assert put_avatar(api, auth, data, name="photo.jpg").status_code == 200

    [stored] = media_files(settings)
    assert Image.open(stored).size == (20, 80)


def test_only_the_first_frame_of_an_animation_is_kept(api, auth, settings):
    frames = [Image.new("RGB", (16, 16), color) for color in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)

    assert put_avatar(api, auth, buffer.getvalue(), name="a.webp").status_code == 200

    [stored] = media_files(settings)
    image = Image.open(stored)
    assert getattr(image, "n_frames", 1) == 1
    pixel = image.convert("RGB").getpixel((8, 8))
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert max(255 - red, green, blue) < 5  # red, within lossy re-encoding


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(api, auth, user, settings):
    data = image_bytes("PNG", size=(4100, 4000), mode="1")  # 16.4 megapixels, a few KB

    body = assert_error(put_avatar(api, auth, data), 400, "VALIDATION_ERROR")

    assert "16,000,000 pixels" in body["error"]["details"]["avatar"][0]
    assert media_files(settings) == []
    user.refresh_from_db()
    assert user.avatar.name == ""


def test_a_webp_over_its_own_lower_pixel_limit_is_refused(api, auth, user, settings):
    # libwebp's decoder needs three times what JPEG and PNG need per pixel: 12 MP for WebP.
    data = image_bytes("WEBP", size=(4000, 3001), quality=1, method=0)

    body = assert_error(put_avatar(api, auth, data, name="a.webp"), 400, "VALIDATION_ERROR")

    assert "12,000,000 pixels" in body["error"]["details"]["avatar"][0]
    assert media_files(settings) == []
    user.refresh_from_db()
    assert user.avatar.name == ""


def test_a_webp_at_its_pixel_limit_is_stored(api, auth, settings):
    data = image_bytes("WEBP", size=(4000, 3000), quality=1, method=0)

    assert put_avatar(api, auth, data, name="a.webp").status_code == 200

    [stored] = media_files(settings)
    assert Image.open(stored).size == (1024, 768)


def test_the_pixel_limit_is_a_setting(api, auth, settings):
    settings.AVATAR_MAX_PIXELS = 64 * 48 - 1

    assert_error(put_avatar(api, auth, image_bytes("PNG")), 400, "VALIDATION_ERROR")
    assert media_files(settings) == []


def test_a_large_image_is_stored_at_the_maximum_side_with_its_aspect_ratio(api, auth, settings):
    data = image_bytes("JPEG", size=(3000, 2000), quality=50)  # 6 megapixels

    assert put_avatar(api, auth, data, name="big.jpg").status_code == 200

    [stored] = media_files(settings)
    assert Image.open(stored).size == (1024, 683)


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_the_maximum_side_is_a_setting(api, auth, settings, image_format):
    settings.AVATAR_MAX_SIDE = 32

    assert put_avatar(api, auth, image_bytes(image_format, size=(48, 64))).status_code == 200

    [stored] = media_files(settings)
    assert Image.open(stored).size == (24, 32)


def test_a_small_image_is_not_scaled_up(api, auth, settings):
    assert put_avatar(api, auth, image_bytes("PNG", size=(64, 48))).status_code == 200

    [stored] = media_files(settings)
    assert Image.open(stored).size == (64, 48)


def test_a_scaled_exif_rotated_image_is_stored_upright(api, auth, settings):
    image = Image.new("RGB", (2400, 1200), "red")
    image.paste("blue", (1200, 0, 2400, 1200))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())

    assert put_avatar(api, auth, buffer.getvalue(), name="photo.jpg").status_code == 200

    [stored] = media_files(settings)
    upright = Image.open(stored).convert("RGB")
    assert upright.size == (512, 1024)
    top, bottom = upright.getpixel((256, 100)), upright.getpixel((256, 924))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200 > top[2]  # the left (red) half is now on top
    assert bottom[2] > 200 > bottom[0]


@pytest.mark.parametrize("mode", ["RGB", "L", "P"])
def test_a_scaled_image_keeps_its_transparent_colour_key_as_alpha(api, auth, settings, mode):
    image = Image.new(mode, (2000, 1000), 0)
    image.paste(200, (1000, 0, 2000, 1000))  # the right half opaque
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=(0, 0, 0) if mode == "RGB" else 0)

    assert put_avatar(api, auth, buffer.getvalue()).status_code == 200

    [stored] = media_files(settings)
    scaled = Image.open(stored)
    assert scaled.size == (1024, 512)
    alpha = scaled.convert("RGBA").getchannel("A")
    assert (alpha.getpixel((100, 256)), alpha.getpixel((900, 256))) == (0, 255)


def _gif_named_png() -> bytes:
    return image_bytes("GIF")


def _truncated_png() -> bytes:
    data = noise_png(20_000)
    return data[: len(data) // 2]


def _truncated_webp() -> bytes:
    image = Image.frombytes("RGB", (100, 100), os.urandom(100 * 100 * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=90)
    data = buffer.getvalue()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (image_bytes("GIF"), "cat.png", "image/png"),
        (image_bytes("BMP"), "cat.png", "image/png"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "a.svg",
            "image/svg+xml",
        ),
        (b"<html><script>alert(1)</script></html>", "photo.jpg", "image/jpeg"),
        (_truncated_png(), "half.png", "image/png"),
        (_truncated_webp(), "half.webp", "image/webp"),
        (image_bytes("PNG", size=(10000, 10000), mode="1"), "bomb.png", "image/png"),
        (image_bytes("TIFF"), "a.png", "image/png"),
    ],
    ids=[
        "gif-as-png",
        "bmp-as-png",
        "svg-script",
        "html-as-jpg",
        "truncated",
        "truncated-webp",
        "bomb",
        "tiff",
    ],
)
def test_anything_but_a_whole_jpeg_png_or_webp_is_refused(
    api, auth, user, settings, data, name, content_type
):
    response = put_avatar(api, auth, data, name, content_type)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "avatar" in body["error"]["details"]
    assert media_files(settings) == []
    user.refresh_from_db()
    assert user.avatar.name == ""


def test_an_empty_file_is_refused(api, auth, settings):
    body = assert_error(put_avatar(api, auth, b""), 400, "VALIDATION_ERROR")

    assert "avatar" in body["error"]["details"]
    assert media_files(settings) == []


def test_a_text_field_where_the_file_should_be_is_refused(api, auth, settings):
    response = api.put(
        "/api/v1/users/me/avatar", {"avatar": "not a file"}, format="multipart", **auth
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "avatar" in body["error"]["details"]
    assert media_files(settings) == []


def test_a_json_body_is_unsupported(api, auth, settings):
    response = api.put("/api/v1/users/me/avatar", {"avatar": "x"}, format="json", **auth)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_an_image_over_the_size_limit_is_413(api, auth, user, settings):
    settings.MAX_UPLOAD_MB = 1
    data = noise_png(1024 * 1024 + 50_000)

    response = put_avatar(api, auth, data)

    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "avatar" in body["error"]["details"]
    assert media_files(settings) == []


def test_a_body_over_the_cap_is_413_before_it_is_read(api, auth, settings):
    settings.MAX_REQUEST_BYTES = 100_000

    response = put_avatar(api, auth, noise_png(200_000))

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert media_files(settings) == []


def test_the_upload_handler_stops_reading_past_the_cap(settings):
    settings.MAX_REQUEST_BYTES = 10
    handler = CappedUploadHandler()
    handler.handle_raw_input(None, {}, 0, b"b")

    assert handler.receive_data_chunk(b"123456", 0) == b"123456"
    with pytest.raises(RequestDataTooBig):
        handler.receive_data_chunk(b"123456", 6)


def test_more_than_a_handful_of_files_is_refused(api, auth, settings):
    files = {f"f{n}": upload(image_bytes(), f"{n}.png") for n in range(5)}
    files["avatar"] = upload(image_bytes())

    response = api.put("/api/v1/users/me/avatar", files, format="multipart", **auth)

    assert_error(response, 400, "BAD_REQUEST")
    assert media_files(settings) == []


@pytest.mark.parametrize("name", ["../../x.png", "x.png\x00.php", "x.png%00.php", "a" * 1000])
def test_the_client_file_name_is_never_used(api, auth, settings, name):
    response = put_avatar(api, auth, image_bytes(), name=name)

    assert response.status_code == 200, response.content
    [stored] = media_files(settings)
    assert stored.parent == Path(settings.MEDIA_ROOT)
    assert STORED_NAME.fullmatch(stored.name)


def test_replacing_and_deleting_remove_the_old_file_after_commit(
    api, auth, user, settings, django_capture_on_commit_callbacks
):
    put_avatar(api, auth, image_bytes("PNG"))
    [first] = media_files(settings)

    with django_capture_on_commit_callbacks(execute=True):
        put_avatar(api, auth, image_bytes("JPEG"), name="b.jpg")
    [second] = media_files(settings)
    assert second != first
    assert not first.exists()

    with django_capture_on_commit_callbacks(execute=False) as pending:
        response = api.delete("/api/v1/users/me/avatar", **auth)
    assert second.exists()  # not before the transaction commits
    for callback in pending:
        callback()

    assert response.status_code == 200
    assert response.json()["data"]["avatar_url"] is None
    assert media_files(settings) == []
    user.refresh_from_db()
    assert user.avatar.name == ""


def test_a_refused_replacement_keeps_the_old_avatar(api, auth, user, settings):
    put_avatar(api, auth, image_bytes("PNG"))
    [first] = media_files(settings)

    assert_error(put_avatar(api, auth, b"<html>"), 400, "VALIDATION_ERROR")

    assert media_files(settings) == [first]
    user.refresh_from_db()
    assert user.avatar.name == first.name


def test_avatar_url_comes_from_settings_not_the_host_header(api, auth, settings):
    settings.PUBLIC_URL = "https://api.example.com"

    response = put_avatar(api, auth, image_bytes(), HTTP_HOST="localhost")

    assert response.json()["data"]["avatar_url"].startswith("https://api.example.com/uploads/")


def test_registration_with_an_avatar(api, settings):
    response = api.post(
        "/api/v1/auth/register",
        {
            "username": "grace",
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "password": "a sturdy passphrase 42",
            "avatar": upload(image_bytes("WEBP"), "g.webp", "image/webp"),
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    [stored] = media_files(settings)
    assert response.json()["data"]["avatar_url"].endswith(stored.name)


@pytest.mark.parametrize(
    ("avatar", "status", "code"),
    [(image_bytes("PNG"), 409, "CONFLICT"), (b"<html>", 400, "VALIDATION_ERROR")],
    ids=["taken-username", "bad-avatar"],
)
def test_failed_registration_leaves_no_file_behind(api, settings, avatar, status, code):
    make_user(username="taken", email="taken@example.com")

    response = api.post(
        "/api/v1/auth/register",
        {
            "username": "taken",
            "name": "Someone",
            "email": "someone@example.com",
            "password": "a sturdy passphrase 42",
            "avatar": upload(avatar),
        },
        format="multipart",
    )

    assert_error(response, status, code)
    assert media_files(settings) == []
    assert User.objects.count() == 1


# --- Rate limit ------------------------------------------------------------------------


def test_avatar_uploads_are_rate_limited_per_account(api, auth, user, settings):
    settings.AVATAR_UPLOAD_RATE_LIMIT = "2/h"
    make_user(username="grace", email="grace@example.com")
    other = bearer(login_pair(api, USER, "grace")["access_token"])

    with time_machine.travel(timezone.now(), tick=False):
        assert put_avatar(api, auth, image_bytes("PNG")).status_code == 200
        assert put_avatar(api, auth, image_bytes("JPEG"), name="b.jpg").status_code == 200
        user.refresh_from_db()
        kept, files = user.avatar.name, media_files(settings)

        third = put_avatar(api, auth, image_bytes("WEBP"), name="c.webp")
        from_other_account = put_avatar(api, other, image_bytes("PNG"))

    body = assert_error(third, 429, "RATE_LIMITED")
    assert int(third["Retry-After"]) >= 1
    assert body["error"]["details"]["retry_after"] == int(third["Retry-After"])
    user.refresh_from_db()
    assert user.avatar.name == kept
    assert not any(path.suffix == ".webp" for path in media_files(settings))
    assert from_other_account.status_code == 200, from_other_account.content
    assert len(media_files(settings)) == len(files) + 1


# --- Serving ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/../settings.py",
        "/uploads/..%2Fsettings.py",
        "/uploads/0123456789abcdef0123456789abcdef.png",
        "/uploads/",
        "/uploads/sub/",
        "/uploads/.gitkeep",
        "/uploads/x.php",
    ],
)
def test_anything_but_a_stored_avatar_is_a_404_envelope(api, path):
    assert_error(api.get(path), 404, "NOT_FOUND")


def test_served_avatars_are_cacheable_forever_and_answer_conditional_gets(api, auth):
    url = put_avatar(api, auth, image_bytes()).json()["data"]["avatar_url"]

    first = api.get(path_of(url))
    again = api.get(path_of(url), HTTP_IF_NONE_MATCH=first["ETag"])

    assert "immutable" in first["Cache-Control"]
    assert first["ETag"]
    assert again.status_code == 304
    assert again.content == b""


def test_uploads_answer_only_get_and_head(api, auth):
    url = put_avatar(api, auth, image_bytes()).json()["data"]["avatar_url"]

    assert api.head(path_of(url)).status_code == 200
    assert_error(api.post(path_of(url)), 405, "METHOD_NOT_ALLOWED")
