"""The default argon2id cost, and that a hash made at an earlier cost still logs in and is rehashed at the new one."""

from __future__ import annotations

from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from movierec.settings import Settings
from movierec.wiring import build_container
from tests.conftest import Auth, create_app_for

ARGON2 = ("argon2_time_cost", "argon2_memory_kib", "argon2_parallelism")


def _defaults() -> dict[str, object]:
    return {name: Settings.model_fields[name].default for name in ARGON2}


def test_the_default_cost_is_owasps_argon2id_minimum() -> None:
    # OWASP Password Storage Cheat Sheet: argon2id with 19 MiB of memory, 2 iterations and 1 degree of parallelism.
    assert _defaults() == {"argon2_time_cost": 2, "argon2_memory_kib": 19 * 1024, "argon2_parallelism": 1}


def test_a_hash_of_the_earlier_cost_logs_in_and_is_rehashed_at_the_default(
    make_settings: Callable[..., Settings],
) -> None:
    container = build_container(make_settings(**_defaults()), run_migrations=True)
    try:
        client = create_app_for(container).test_client()
        user_id = Auth(client).register("alice", "correct horse")
        earlier = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY).hash("correct horse")  # t=3, 64 MiB, p=4
        with container.store.uow() as uow:
            uow.users.set_password_hash(user_id, earlier)
            uow.commit()

        wrong = client.post("/login", json={"username": "alice", "password": "not the password"})
        assert wrong.status_code == 401
        with container.store.uow() as uow:
            assert uow.users.credentials("alice")[1] == earlier  # type: ignore[index]  # a failed login changes nothing

        assert Auth(client).login("alice", "correct horse")[0] == user_id
        with container.store.uow() as uow:
            rehashed = uow.users.credentials("alice")[1]  # type: ignore[index]
        assert rehashed != earlier and rehashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert Auth(client).login("alice", "correct horse")[0] == user_id  # and the new hash logs in too
    finally:
        container.close()
