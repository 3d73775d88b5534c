"""
The docs pages: Swagger UI (`/api/docs`) and ReDoc (`/api/redoc`).

drf-spectacular's views, with the pages' scripts and styles served from the project's own
static files (drf-spectacular-sidecar, pinned in requirements.txt, `SWAGGER_UI_DIST` and
`REDOC_DIST` = "SIDECAR"), so they work offline, behind a proxy and under this
Content-Security-Policy, which allows nothing from another origin. Swagger UI is the split
view: its start-up script is a file of its own (`/api/docs?script=`) rather than an inline
`<script>`, so the policy needs no 'unsafe-inline' for scripts. The pages' own styles live
in `config/static/docs/`, not in a `<style>` element, for the same reason.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

# The least both pages work with, checked in a real browser (scripts/browser_docs.py):
# their scripts, styles and the schema (`connect-src`) from this origin, and `data:`
# images, the icons swagger-ui.css embeds. Nothing else, fonts included (neither page
# ships one: they use the system's). `frame-ancestors`, `base-uri` and `form-action` close
# what `default-src` does not cover.
_SHARED = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
}


def policy(**directives: str) -> str:
    """The docs' Content-Security-Policy with `directives` (underscores for dashes) changed."""
    merged = {**_SHARED, **{name.replace("_", "-"): value for name, value in directives.items()}}
    return "; ".join(f"{name} {value}" for name, value in merged.items())


SWAGGER_UI_POLICY = policy()
# ReDoc styles itself with styled-components, which writes `<style>` elements at run time
# (no nonce support in the standalone bundle), and runs its search index in a Web Worker
# started from a `blob:` URL. Its bundle always draws the "API docs by Redocly" logo from
# cdn.redoc.ly: `img-src` refuses it before any request is made, and ReDoc drops the image.
REDOC_POLICY = policy(style_src="'self' 'unsafe-inline'", worker_src="blob:")


class _ContentSecurityPolicy:
    """Sets `content_security_policy` on every response of the view."""

    content_security_policy: str

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response["Content-Security-Policy"] = self.content_security_policy
        return response


class SwaggerUIView(_ContentSecurityPolicy, SpectacularSwaggerSplitView):
    template_name = "docs/swagger_ui.html"
    content_security_policy = SWAGGER_UI_POLICY


class RedocView(_ContentSecurityPolicy, SpectacularRedocView):
    template_name = "docs/redoc.html"
    content_security_policy = REDOC_POLICY
