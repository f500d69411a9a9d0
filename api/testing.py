"""Helpers for tests of the HTTP app: an in-process client and a company with known API tokens."""

from __future__ import annotations

import copy
import hashlib
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.clock import Clock, SystemClock
from runtime.assembly import Runtime
from runtime.settings import EXAMPLE_COMPANY, Settings

with warnings.catch_warnings():
    # Starlette prefers httpx2 for its TestClient; plain httpx works the same for our tests.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

API_TOKENS = {
    "ivanov": "tok-ivanov-sales-manager",
    "kuznetsova": "tok-kuznetsova-head-of-sales",
    "morozova": "tok-morozova-accountant",
    "erp": "tok-erp-warehouse-integration",
    "orlov": "tok-orlov-director",
}
"""Bearer tokens of the test company: four people (the director reads every case) and one
integration (warehouse storekeeper)."""


PASSWORDS = {
    "kuznetsova": "kuznetsova-sales-head-pw",
    "morozova": "morozova-accountant-pw",
    "ivanov": "ivanov-sales-manager-pw",
    "orlov": "orlov-director-password",
}
"""Dashboard passwords that ``set_passwords`` gives people of the test company."""


def set_passwords(database_url: str, config: Path, people: Mapping[str, str] = PASSWORDS) -> None:
    """Give test people their passwords (argon2id hashes in ``accounts``, see ``_hashed``)."""
    from org.accounts import store_password_hash

    served = runtime(database_url, config)
    try:
        with served.sessions.begin() as session:
            for person, password in people.items():
                store_password_hash(session, served.company, person, _hashed(password), now=SystemClock().now())
    finally:
        served.close()


@cache
def _hashed(password: str) -> str:
    """An argon2id hash at a low cost (1 pass over 1 MiB), made once per process. Signing in
    verifies with the parameters the stored hash names; at the production cost (3 passes over
    64 MiB, ~0.3 s of CPU each) the suite's few hundred sign-ins cost minutes of CPU. Hashes at
    the production cost are what ``slaflow user set-password`` and invitations store, and
    tests/test_access_cli.py signs in with one."""
    from argon2 import PasswordHasher

    from org.passwords import check_strength

    check_strength(password)
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def login_csrf(client: TestClient, path: str = "/dashboard/login") -> str:
    """The CSRF value of a pre-sign-in form (the client keeps its signed cookie)."""
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def sign_in(client: TestClient, person: str, *, password: str | None = None, next: str = "",
            **options: Any) -> Any:
    """Post the login form as a browser of this site would (CSRF value, same Origin)."""
    data = {"username": person, "password": PASSWORDS[person] if password is None else password,
            "csrf": login_csrf(client), "next": next}
    return client.post("/dashboard/login", data=data, follow_redirects=False,
                       headers={"Origin": str(client.base_url)}, **options)


def admin_header(database_url: str, config: Path) -> dict[str, str]:
    """A bearer header of a new admin integration token (reads stored webhooks), made as
    ``slaflow token create --admin`` makes it."""
    import uuid

    from org.tokens import create_token

    served = runtime(database_url, config)
    try:
        with served.sessions.begin() as session:
            token = create_token(session, served.company, name=f"ops-{uuid.uuid4().hex[:8]}", now=SystemClock().now(),
                                 memberships=["sales/manager"], admin=True)
    finally:
        served.close()
    return {"Authorization": f"Bearer {token}"}


def token_header(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKENS[name]}"}


def example_mapping() -> dict[str, Any]:
    """The example company file as a mapping of its own (a test may change it)."""
    return copy.deepcopy(_example_mapping())


@lru_cache(maxsize=1)
def _example_mapping() -> dict[str, Any]:
    from core.yaml_loader import read_yaml

    raw: dict[str, Any] = read_yaml(EXAMPLE_COMPANY)
    return raw


def example_config(**crm: Any) -> dict[str, Any]:
    """The example company as a mapping, with the test API tokens and ``crm`` keys replaced."""
    raw = example_mapping()
    tokens = [
        {"name": name, "sha256": hashlib.sha256(token.encode()).hexdigest(),
         **({"memberships": ["warehouse/storekeeper"]} if name == "erp" else {"person": name})}
        for name, token in API_TOKENS.items()
    ]
    raw["crm"] = {**raw["crm"], "api_tokens": tokens, **crm}
    return raw


def write_config(directory: Path, **crm: Any) -> Path:
    path = directory / "company.yaml"
    path.write_text(dump_yaml(example_config(**crm)), encoding="utf-8")
    return path


def dump_yaml(raw: Any, *, sort_keys: bool = False) -> str:
    """A company mapping as YAML text, with libyaml's emitter when PyYAML has it (the same text as
    ``yaml.safe_dump``, several times faster)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(raw, Dumper=dumper, allow_unicode=True, sort_keys=sort_keys))


def runtime(database_url: str, config: Path) -> Runtime:
    return Runtime(Settings(database_url=database_url, config=config))


@contextmanager
def serving(database_url: str, config: Path, clock: Clock, environ: Mapping[str, str],
            **options: Any) -> Iterator[TestClient]:
    """An in-process client of a started app; the app's database connections are closed after."""
    from api.app import create_app

    served = runtime(database_url, config)
    try:
        with TestClient(create_app(served, clock, environ=environ, **options)) as client:
            yield client
    finally:
        served.close()


__all__ = [
    "API_TOKENS", "PASSWORDS", "TestClient", "admin_header", "dump_yaml", "example_config", "example_mapping",
    "login_csrf", "runtime", "serving", "set_passwords", "sign_in", "token_header", "write_config",
]
