"""Accounts: registration with argon2id hashes, login, and signed bearer tokens any backend can verify."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError

from movierec.domain.accounts import User, password_problem, username_problem
from movierec.services.errors import Conflict, InvalidInput, Unauthorized
from movierec.services.throttle import LoginThrottle
from movierec.store.uow import Store

TOKEN_ISSUER = "movierec"
TOKEN_ALGORITHM = "HS256"
BAD_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True, slots=True)
class AccessToken:
    user_id: int
    access_token: str
    expires_in: int
    token_type: str = "bearer"


class AccountService:
    def __init__(
        self,
        store: Store,
        signing_key: str,
        token_ttl_seconds: int,
        hasher: PasswordHasher | None = None,
        throttle: LoginThrottle | None = None,
    ):
        self.store = store
        self.throttle = throttle
        self._key = signing_key
        self._ttl = token_ttl_seconds
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory parameters
        # Verified against when the username is unknown, so both failures take the same time.
        self._decoy_hash = self._hasher.hash("decoy password that never matches")

    def register(self, username: str, password: str) -> User:
        problem = username_problem(username) or password_problem(password)
        if problem:
            raise InvalidInput(problem)
        password_hash = self._hasher.hash(password)
        with self.store.uow() as uow:
            if uow.users.credentials(username) is not None:
                raise Conflict(f"username {username!r} is taken")
            try:
                user = uow.users.add(username, password_hash)
                uow.commit()
            except IntegrityError:  # registered concurrently by someone else
                raise Conflict(f"username {username!r} is taken") from None
        return user

    def login(self, username: str, password: str, address: str | None = None) -> AccessToken:
        if self.throttle is not None:
            self.throttle.check(username, address)
        with self.store.uow() as uow:
            found = uow.users.credentials(username)
        stored_hash = found[1] if found else None
        try:
            verified: bool = self._hasher.verify(stored_hash or self._decoy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            verified = False
        if not verified or found is None or stored_hash is None:
            if self.throttle is not None:
                self.throttle.failed(username, address)
            raise Unauthorized(BAD_CREDENTIALS)
        user = found[0]
        if self._hasher.check_needs_rehash(stored_hash):
            with self.store.uow() as uow:
                uow.users.set_password_hash(user.id, self._hasher.hash(password))
                uow.commit()
        return self.issue_token(user.id)

    def issue_token(self, user_id: int, now: dt.datetime | None = None) -> AccessToken:
        now = now or dt.datetime.now(dt.UTC)
        claims = {
            "sub": str(user_id),
            "iss": TOKEN_ISSUER,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self._ttl,
            "typ": "access",
        }
        token = jwt.encode(claims, self._key, algorithm=TOKEN_ALGORITHM)
        return AccessToken(user_id=user_id, access_token=token, expires_in=self._ttl)

    def verify(self, token: str) -> int:
        """The user id a valid, unexpired token was issued to; ``Unauthorized`` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[TOKEN_ALGORITHM],
                issuer=TOKEN_ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired: log in again") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid token") from None
        subject = claims.get("sub")
        if claims.get("typ") != "access" or not isinstance(subject, str) or not subject.isdigit():
            raise Unauthorized("invalid token")
        user_id = int(subject)
        with self.store.uow() as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise Unauthorized("invalid token")
        return user_id
