"""Root URLconf: the API under /api/v1/, operations, OpenAPI, the admin site, uploads."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from config.api import views
from config.api.docs import RedocView, SwaggerUIView
from config.api.uploads import serve_upload
from config.metrics import metrics

api_v1 = [
    path("", include("accounts.urls")),
    path("admin/", include("admins.urls")),
    path("", include("tokens.urls")),
]

# The schema and the docs pages are documents: GET and HEAD only, every other method
# (OPTIONS too, whose metadata page the docs' HTML renderer cannot draw) is a 405.
DOCUMENT_METHODS = ["get", "head"]

urlpatterns = [
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path(
        "api/schema",
        SpectacularAPIView.as_view(http_method_names=DOCUMENT_METHODS),
        name="schema",
    ),
    path(
        "api/docs",
        SwaggerUIView.as_view(url_name="schema", http_method_names=DOCUMENT_METHODS),
        name="swagger-ui",
    ),
    path(
        "api/redoc",
        RedocView.as_view(url_name="schema", http_method_names=DOCUMENT_METHODS),
        name="redoc",
    ),
    # The admin site's recovery pages first: they live under its prefix.
    path("", include("admins.site_urls")),
    path("admin/", admin.site.urls),
    # Served by the app in every mode (the image has no other web server); see the README
    # for serving media/ from a proxy or object storage instead.
    re_path(r"^uploads/(?P<name>[^/]+)$", serve_upload, name="upload"),
]

handler400 = "config.api.handlers.bad_request"
handler403 = "config.api.handlers.permission_denied"
handler404 = "config.api.handlers.page_not_found"
handler500 = "config.api.handlers.server_error"
