from __future__ import annotations

from flask import Blueprint, request

from movierec.api.binding import endpoint
from movierec.api.extension import container
from movierec.api.schemas import Credentials, LoginRequest, LoginResponse, LogoutQuery, PasswordChange, RegisterResponse
from movierec.services.accounts import AccessToken, Caller

bp = Blueprint("accounts", __name__)


def _token(token: AccessToken) -> LoginResponse:
    return LoginResponse(user_id=token.user_id, access_token=token.access_token, expires_in=token.expires_in)


@bp.post("/register")
@endpoint(
    summary="Create an account",
    tags=("accounts",),
    body=Credentials,
    response=RegisterResponse,
    status=201,
    errors=(409, 429),
    description="Usernames are compared without case (Ada and ada are one account). Passwords that are very "
    "common or equal to the username are refused (400). Registrations are limited per address (429).",
)
def register(body: Credentials) -> RegisterResponse:
    user = container().accounts.register(body.username, body.password, request.remote_addr)
    return RegisterResponse(user_id=user.id, username=user.username)


@bp.post("/login")
@endpoint(
    summary="Log in and get a bearer token",
    tags=("accounts",),
    body=LoginRequest,
    response=LoginResponse,
    errors=(401, 429),
    description="The username in any case. Attempts are limited per username and address and per address (429); "
    "many failures for one username slow its logins down, they never lock the owner out.",
)
def login(body: LoginRequest) -> LoginResponse:
    return _token(container().accounts.login(body.username, body.password, request.remote_addr))


@bp.post("/logout")
@endpoint(
    summary="Log out: this token stops working (with everywhere=true, every token of yours)",
    tags=("accounts",),
    query=LogoutQuery,
    response=None,
    status=204,
    auth=True,
)
def logout(caller: Caller, query: LogoutQuery) -> None:
    container().accounts.logout(caller, everywhere=query.everywhere)


@bp.post("/password")
@endpoint(
    summary="Change your password: every older token stops working; a new token is returned",
    tags=("accounts",),
    body=PasswordChange,
    response=LoginResponse,
    auth=True,
    errors=(429,),
)
def change_password(caller: Caller, body: PasswordChange) -> LoginResponse:
    token = container().accounts.change_password(caller, body.current_password, body.new_password, request.remote_addr)
    return _token(token)
