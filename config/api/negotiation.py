"""Content negotiation: DRF's own, except for an unknown `?format=`."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown `?format=` is 406 `NOT_ACCEPTABLE`, like an `Accept` header no renderer
    can satisfy.

    DRF answers 404 there, which suits a format suffix in the path (`/users.xml` names a
    resource that does not exist); this API has no format suffixes, and the path itself
    does exist.
    """

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        renderers = list(renderers)
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            raise NotAcceptable("Unknown format", available_renderers=renderers)
        return matching
