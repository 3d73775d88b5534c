"""The docs pages (`config/api/docs.py`): pinned assets from the project's own static
files, nothing from another origin, a Content-Security-Policy, no persisted authorization."""

from __future__ import annotations

import re

import pytest

SWAGGER_UI = "/api/docs"
SWAGGER_UI_SCRIPT = "/api/docs?script="
REDOC = "/api/redoc"

SWAGGER_UI_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
REDOC_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'; worker-src blob:"
)

# Every URL an HTML page loads: src/href attributes and ReDoc's spec-url.
URL_ATTRIBUTE = re.compile(r'\b(?:src|href|spec-url)="([^"]*)"')


def page(api, path: str) -> str:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return response.content.decode()


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        (SWAGGER_UI, SWAGGER_UI_POLICY),
        (SWAGGER_UI_SCRIPT, SWAGGER_UI_POLICY),
        (REDOC, REDOC_POLICY),
    ],
)
def test_the_docs_pages_answer_200_under_their_content_security_policy(api, path, policy):
    response = api.get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == policy


@pytest.mark.parametrize("path", ["/health", "/api/schema"])
def test_other_responses_carry_no_docs_policy(api, path):
    response = api.get(path)

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


def test_the_swagger_ui_page_loads_only_pinned_static_files_and_its_own_script(api):
    html = page(api, SWAGGER_UI)

    urls = URL_ATTRIBUTE.findall(html)
    assert sorted(urls) == [
        SWAGGER_UI_SCRIPT,
        "/static/docs/swagger-ui-page.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    ]
    assert "http" not in html
    assert "//" not in html
    # No inline script or style: the policy allows neither.
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html


def test_the_redoc_page_loads_only_pinned_static_files_and_the_schema(api):
    html = page(api, REDOC)

    urls = URL_ATTRIBUTE.findall(html)
    assert sorted(urls) == [
        "/api/schema",
        "/static/docs/redoc-page.css",
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    ]
    assert "http" not in html  # Google Fonts included
    assert "//" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html


@pytest.mark.parametrize("path", [SWAGGER_UI, REDOC])
def test_every_file_a_docs_page_loads_is_served(api, path):
    assets = [url for url in URL_ATTRIBUTE.findall(page(api, path)) if url.startswith("/static/")]

    assert assets
    for url in assets:
        response = api.get(url)
        assert response.status_code == 200, url
        assert b"".join(response.streaming_content), url


def test_the_swagger_ui_script_keeps_no_authorization_and_calls_no_validator(api):
    response = api.get(SWAGGER_UI_SCRIPT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert '"persistAuthorization": false' in script
    assert '"validatorUrl": null' in script
    assert "SwaggerUIBundle(" in script
    assert "://" not in script


@pytest.mark.parametrize("path", [SWAGGER_UI, SWAGGER_UI_SCRIPT, REDOC])
def test_no_docs_response_persists_authorization(api, path):
    body = page(api, path)

    assert not re.search(r"persistAuthorization\W+true", body)
