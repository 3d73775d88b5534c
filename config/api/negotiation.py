"""Content negotiation: DRF's own, except for an unknown `?format=`, and decided at once
for a request that takes anything."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown `?format=` is 406 `NOT_ACCEPTABLE`, like an `Accept` header no renderer
    can satisfy.

    DRF answers 404 there, which suits a format suffix in the path (`/users.xml` names a
    resource that does not exist); this API has no format suffixes, and the path itself
    does exist.
    """

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        """DRF's choice. A request with no `Accept`, or `Accept: */*`, and no `?format=`
        (nearly every API client's) takes the first renderer with its own media type, as
        DRF would decide after parsing and ranking the header's media types, which was
        most of negotiation's cost."""
        if (
            format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and not request.META.get("QUERY_STRING")
        ):
            first = next(iter(renderers))
            return first, first.media_type
        chosen: tuple[BaseRenderer, str] = super().select_renderer(
            request, renderers, format_suffix
        )
        return chosen

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        renderers = list(renderers)
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            raise NotAcceptable("Unknown format", available_renderers=renderers)
        return matching
