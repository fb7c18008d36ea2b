from __future__ import annotations

from flask import Blueprint, request

from movierec.api.extension import container
from movierec.api.openapi import endpoint
from movierec.api.schemas import Credentials, LoginRequest, LoginResponse, RegisterResponse

bp = Blueprint("accounts", __name__)


@bp.post("/register")
@endpoint(
    summary="Create an account",
    tags=("accounts",),
    body=Credentials,
    response=RegisterResponse,
    status=201,
    errors=(409,),
)
def register(body: Credentials) -> RegisterResponse:
    user = container().accounts.register(body.username, body.password)
    return RegisterResponse(user_id=user.id, username=user.username)


@bp.post("/login")
@endpoint(
    summary="Log in and get a bearer token",
    tags=("accounts",),
    body=LoginRequest,
    response=LoginResponse,
    errors=(401, 429),
)
def login(body: LoginRequest) -> LoginResponse:
    token = container().accounts.login(body.username, body.password, request.remote_addr)
    return LoginResponse(user_id=token.user_id, access_token=token.access_token, expires_in=token.expires_in)
