"""
The FastAPI peer of `make bench PEERS=1`: `GET /me` as a FastAPI + asyncpg + PyJWT service
writes it. The bearer token is an HS256 JWT (`sub` = the user's id, `exp` checked), the
user is one `SELECT` by id on an asyncpg pool, and the answer is the project's envelope
(`{"success": true, "message": ..., "data": {...}}`) built from Pydantic models, as
FastAPI's documentation does it. It reads the DRF peer's user table.

    PEER_DATABASE_URL=postgres://... PEER_SECRET_KEY=... \
        uvicorn app:app --workers 2 --no-access-log
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

SECRET_KEY = os.environ["PEER_SECRET_KEY"]
DATABASE_URL = os.environ["PEER_DATABASE_URL"]

USER_BY_ID = (
    "SELECT id, username, name, email, phone, is_active, created_at, updated_at"
    " FROM users_user WHERE id = $1"
)


class UserOut(BaseModel):
    id: int
    username: str
    name: str
    email: str
    phone: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class Envelope(BaseModel):
    success: bool = True
    message: str
    data: UserOut


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DATABASE_URL)
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)
bearer_scheme = HTTPBearer(auto_error=False)


@app.exception_handler(HTTPException)
async def error_envelope(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"success": False, "error": {"code": "NOT_AUTHENTICATED", "message": exc.detail}},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> dict[str, Any]:
    unauthorized = HTTPException(401, "Invalid or missing token.", {"WWW-Authenticate": "Bearer"})
    if credentials is None:
        raise unauthorized
    try:
        claims = jwt.decode(
            credentials.credentials,
            SECRET_KEY,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise unauthorized from exc
    row = await request.app.state.pool.fetchrow(USER_BY_ID, user_id)
    if row is None or not row["is_active"]:
        raise unauthorized
    return dict(row)


@app.get("/me", response_model=Envelope)
async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> Envelope:
    return Envelope(message="Profile retrieved", data=UserOut(**user))
