"""The router every app's viewsets are registered with.

DRF's `SimpleRouter` with the contract's paths (no trailing slash), whose collection route
also maps DELETE to a viewset's `destroy_all` (`DELETE /api/v1/tokens`: revoke every token
but the caller's own), where the viewset has one.
"""

from __future__ import annotations

from typing import cast

from rest_framework.routers import Route, SimpleRouter

_LIST = cast(Route, SimpleRouter.routes[0])


class Router(SimpleRouter):
    routes = [
        Route(
            url=_LIST.url,
            mapping={**_LIST.mapping, "delete": "destroy_all"},
            name=_LIST.name,
            detail=_LIST.detail,
            initkwargs=_LIST.initkwargs,
        ),
        *SimpleRouter.routes[1:],
    ]

    def __init__(self) -> None:
        super().__init__(trailing_slash=False)
