"""`/uploads/<name>`: GET and HEAD only, every other method a 405 envelope (CSRF or not)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from accounts.tests.images import image_bytes
from config.testing import assert_error

NAME = "0123456789abcdef0123456789abcdef.png"


@pytest.fixture
def stored() -> bytes:
    data = image_bytes()
    assert default_storage.save(NAME, ContentFile(data)) == NAME
    return data


@pytest.fixture
def browser() -> Client:
    """A client that runs Django's CSRF check, as a browser's request meets it."""
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_any_other_method_is_405_with_allow_not_a_csrf_403(browser, stored, method):
    response = getattr(browser, method)(f"/uploads/{NAME}")

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET, HEAD"
    with default_storage.open(NAME, "rb") as handle:
        assert handle.read() == stored


def test_a_post_to_a_name_never_stored_is_405_too(browser):
    response = browser.post("/uploads/x.php", {"file": "<?php"})

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert not default_storage.exists("x.php")


def test_get_and_head_still_serve_the_file(browser, stored):
    response = browser.get(f"/uploads/{NAME}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == stored
    assert browser.head(f"/uploads/{NAME}").status_code == 200
