"""Accounts: registration with argon2id hashes, login, and signed bearer tokens any backend can verify.

A token carries its own id (``jti``) and the user's token version (``ver``). Both are checked against the
database in the one query that also checks the user still exists: ``POST /logout`` revokes one token (its id is
kept until the token would have expired), a password change or "log out everywhere" bumps the version and so
revokes every older token. A token found live, or just issued, is remembered in the cache (``tokens:<user_id>``,
field ``jti``, value its version) so that later requests skip the query; every revocation drops that key after it
commits, and the cache's version protocol keeps a check that read the database before a revocation from writing
after it.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass

import jwt

from movierec.cache.guarded import GuardedCache
from movierec.cache.port import Entry, Slot
from movierec.domain.accounts import (
    User,
    UsernameTaken,
    normalise_username,
    password_problem,
    username_key,
    username_problem,
)
from movierec.domain.errors import InvalidInput, Unauthorized
from movierec.domain.ids import parse_id
from movierec.log import get_logger
from movierec.services.passwords import PasswordHashing
from movierec.services.throttle import LoginThrottle, RegistrationThrottle
from movierec.store.port import Store

log = get_logger(__name__)

TOKEN_ISSUER = "movierec"
TOKEN_ALGORITHM = "HS256"
BAD_CREDENTIALS = "wrong username or password"
_MAX_TOKEN_ID = 64
LIVE_TOKEN_SECONDS = 300  # how long a token found live is trusted from the cache (each revocation drops it)
TOKEN_MEMO_SIZE = 4096  # tokens whose signature a process remembers having checked (~1 KB each)


@dataclass(frozen=True, slots=True)
class AccessToken:
    user_id: int
    access_token: str
    expires_in: int
    token_type: str = "bearer"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified token speaks for, and which token it is."""

    user_id: int
    token_id: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class _SignedToken:
    """A signed token's claims as ``verify`` needs them: ``expires`` None when it is not a number, ``caller`` None
    when the claims are not those of an access token of ours; ``version`` the token version, as the cache holds it."""

    expires: float | None
    caller: Caller | None
    version: bytes


def tokens_key(user_id: int) -> str:
    """``{user_id}`` is a Redis hash tag: a user's keys share a cluster slot, so one script can read them all."""
    return f"tokens:{{{user_id}}}"


def _invalid(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{field}: {problem}", details=[{"field": field, "message": problem}])


class AccountService:
    def __init__(
        self,
        store: Store,
        signing_key: str,
        token_ttl_seconds: int,
        hashing: PasswordHashing,
        throttle: LoginThrottle,
        registrations: RegistrationThrottle,
        cache: GuardedCache,
    ):
        self.store = store
        self.cache = cache
        self.hashing = hashing
        self.throttle = throttle
        self.registrations = registrations
        self._key = signing_key
        self._ttl = token_ttl_seconds
        self._claims = functools.lru_cache(maxsize=TOKEN_MEMO_SIZE)(self._signed_claims)

    def register(self, username: str, password: str, address: str | None = None) -> User:
        username = normalise_username(username)
        problem = username_problem(username)
        if problem:
            raise _invalid("username", problem)
        problem = password_problem(password, username)
        if problem:
            raise _invalid("password", problem)
        with self.store.uow() as uow:
            taken = uow.users.key_taken(username)
        if taken:
            raise UsernameTaken(username)
        self.registrations.reserve(address)  # before the expensive hash
        password_hash = self.hashing.hash(password)
        with self.store.uow() as uow:
            user = uow.users.add(username, password_hash)  # UsernameTaken (a Conflict): registered concurrently
            uow.commit()
        log.info("register.ok", user_id=user.id, username=user.username, address=address)
        return user

    def login(self, username: str, password: str, address: str | None = None) -> AccessToken:
        with self.store.uow() as uow:
            found = uow.users.credentials(username)
        stored_hash = found[1] if found else None
        if (
            not self._password_matches(username_key(username), stored_hash, password, address, "login.failed")
            or not found
        ):
            raise Unauthorized(BAD_CREDENTIALS)
        user = found[0]
        if stored_hash is not None and self.hashing.needs_rehash(stored_hash):
            with self.store.uow() as uow:
                uow.users.set_password_hash(user.id, self.hashing.hash(password))
                uow.commit()
        return self.issue_token(user.id, user.token_version)

    def change_password(
        self, caller: Caller, current_password: str, new_password: str, address: str | None = None
    ) -> AccessToken:
        """Check the current password (throttled like a login), store the new one, revoke every older token."""
        with self.store.uow() as uow:
            found = uow.users.credentials_of(caller.user_id)
        if found is None:
            raise Unauthorized("invalid token")
        user, stored_hash = found
        if not self._password_matches(
            username_key(user.username), stored_hash, current_password, address, "password_change.failed"
        ):
            raise Unauthorized("the current password is wrong")
        problem = password_problem(new_password, user.username)
        if problem:
            raise _invalid("new_password", problem)
        new_hash = self.hashing.hash(new_password)
        with self.store.uow() as uow:
            version = uow.users.set_password_hash(user.id, new_hash, revoke_tokens=True)
            uow.commit()
        self.cache.drop(tokens_key(user.id))
        log.info("password_change.ok", user_id=user.id, address=address)
        return self.issue_token(user.id, version)

    def _password_matches(
        self, key: str, stored_hash: str | None, password: str, address: str | None, failed_event: str
    ) -> bool:
        """One throttled password check, as a login does it: the attempt is reserved (429 past the budget) before
        argon2 runs, slowed down by the username's recent failures; a failure is counted and logged."""
        delay = self.throttle.reserve(key, address)
        if not self.hashing.verify(stored_hash, password, delay=delay):
            self.throttle.failed(key, address)
            log.info(failed_event, username=key, address=address)
            return False
        self.throttle.succeeded(key, address)
        return True

    def logout(self, caller: Caller, *, everywhere: bool = False) -> None:
        """Revoke the caller's token, or with ``everywhere`` every token issued to the caller so far."""
        with self.store.uow() as uow:
            if everywhere:
                uow.users.revoke_all_tokens(caller.user_id)
            else:
                uow.users.revoke_token(caller.token_id, caller.user_id, caller.expires_at)
            uow.commit()
        self.cache.drop(tokens_key(caller.user_id))

    def issue_token(self, user_id: int, version: int | None = None, now: dt.datetime | None = None) -> AccessToken:
        """A token for ``user_id`` under its token ``version`` (the current one when not given), remembered as live
        in the cache when that version is still the user's: the first request made with it skips the database.

        The cache entry is looked up before the version is read (the protocol ``verify`` follows), so a revocation
        that commits after that read drops the key and this write is refused; a ``version`` that is no longer the
        user's (a password changed meanwhile) is never remembered, and the token it signs is refused."""
        now = now or dt.datetime.now(dt.UTC)
        token_id = uuid.uuid4().hex
        key = tokens_key(user_id)
        entry = self.cache.lookup(key, token_id, LIVE_TOKEN_SECONDS)
        with self.store.reader() as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise Unauthorized("invalid token")
        if version is None:
            version = user.token_version
        claims = {
            "sub": str(user_id),
            "iss": TOKEN_ISSUER,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self._ttl,
            "typ": "access",
            "jti": token_id,
            "ver": version,
        }
        token = jwt.encode(claims, self._key, algorithm=TOKEN_ALGORITHM)
        if version == user.token_version:
            self.cache.store(key, token_id, str(version).encode("ascii"), entry)
        return AccessToken(user_id=user_id, access_token=token, expires_in=self._ttl)

    def _signed_claims(self, token: str) -> _SignedToken:
        """What a token this service signed says, checked for shape (expiry not checked here: ``verify`` checks it
        every time). Memoised per token (``self._claims``): checking a signature, decoding the JSON and building
        the caller cost more than the whole rest of a cached request, and a token's signed claims never change.
        Only tokens with a valid signature are kept (a forged one raises, and exceptions are not memoised)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[TOKEN_ALGORITHM],
                issuer=TOKEN_ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise Unauthorized("invalid token") from None
        expires = claims["exp"]
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            return _SignedToken(None, None, b"")
        subject, token_id, version = claims.get("sub"), claims.get("jti"), claims.get("ver")
        user_id = parse_id(subject) if isinstance(subject, str) else None
        if (
            claims.get("typ") != "access"
            or user_id is None
            or not isinstance(token_id, str)
            or not 0 < len(token_id) <= _MAX_TOKEN_ID
            or isinstance(version, bool)
            or not isinstance(version, int)
        ):
            return _SignedToken(expires, None, b"")
        caller = Caller(user_id, token_id, dt.datetime.fromtimestamp(int(expires), dt.UTC))
        return _SignedToken(expires, caller, str(version).encode("ascii"))

    def verify(self, token: str) -> Caller:
        """Who a valid, unexpired, unrevoked token was issued to; ``Unauthorized`` otherwise."""
        return self.verify_along(token, None)[0]

    def verify_along(self, token: str, also: Slot | None) -> tuple[Caller, Entry | None]:
        """``verify``, reading the cache slot ``also`` (what the request will answer from) in the same cache round
        trip as the token's check; the slot's entry, or None when it could not be read."""
        signed = self._claims(token)
        if signed.expires is None:
            raise Unauthorized("invalid token")
        if signed.expires <= time.time():  # as PyJWT decides it, with no leeway
            raise Unauthorized("token expired: log in again")
        caller = signed.caller
        if caller is None:
            raise Unauthorized("invalid token")
        user_id, token_id, claimed = caller.user_id, caller.token_id, signed.version
        key = tokens_key(user_id)
        slots = [(key, token_id, LIVE_TOKEN_SECONDS), *([also] if also else [])]
        entry, *extra = self.cache.lookup_many(slots)  # before the database is read: see the module docstring
        along = extra[0] if extra else None
        if entry is not None and entry.value == claimed:
            return caller, along
        with self.store.reader() as uow:  # one statement: no transaction to begin and roll back
            state = uow.users.token_state(user_id, token_id)
        if state is None:
            raise Unauthorized("invalid token")
        current_version, revoked = state
        if revoked or claimed != str(current_version).encode("ascii"):
            raise Unauthorized("token revoked: log in again")
        self.cache.store(key, token_id, claimed, entry)
        return caller, along
