"""`APIResponse`: a DRF response that may name the envelope's success message (else the
renderer takes the view's, see `config.api.renderers`)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response


class APIResponse(Response):
    def __init__(
        self,
        data: Any = None,
        *,
        message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data, status=status, headers=headers)
        self.message = message
