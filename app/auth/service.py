"""Creating and checking API keys. Keys are random, shown once, and stored as SHA-256 hashes
(a fast hash is enough for 256-bit random secrets; there is nothing to brute-force)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.auth import repository
from app.auth.models import ApiKey
from app.clock import Clock
from app.errors import ConflictError, InvalidInputError
from app.systems import repository as systems_repository

KEY_PREFIX = "mlslo"


class Scope(enum.StrEnum):
    READ = "read"
    INGEST = "ingest"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name, its scopes, and the one system it is bound to, if any."""

    key_name: str
    scopes: frozenset[Scope]
    system_id: int | None

    def allows(self, scope: Scope) -> bool:
        # admin covers everything; read and ingest are separate so an ingest key cannot read or change SLOs
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def may_access_system(self, system_id: int) -> bool:
        return self.system_id is None or self.system_id == system_id


@dataclass(frozen=True, slots=True)
class CreatedKey:
    api_key: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    *,
    db_session: Session,
    clock: Clock,
    name: str,
    scopes: list[Scope],
    system_name: str | None = None,
) -> CreatedKey:
    if not scopes:
        raise InvalidInputError("a key needs at least one scope", field="scopes")
    if repository.get_by_name(db_session=db_session, name=name) is not None:
        raise ConflictError(f"an API key named {name!r} already exists", field="name")
    system_id = None
    if system_name is not None:
        system = systems_repository.get_by_name(db_session=db_session, name=system_name)
        if system is None:
            raise InvalidInputError(f"system {system_name!r} is not registered", field="system")
        system_id = system.id
    key_prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{key_prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        name=name,
        key_prefix=key_prefix,
        key_hash=hash_key(secret),
        scopes=sorted({scope.value for scope in scopes}),
        system_id=system_id,
        created_at=clock.now(),
    )
    repository.add(db_session=db_session, api_key=api_key)
    return CreatedKey(api_key=api_key, secret=secret)


def authenticate(*, db_session: Session, clock: Clock, secret: str) -> Principal | None:
    """The principal for a presented key, or None if the key is unknown, wrong or revoked."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    api_key = repository.get_by_prefix(db_session=db_session, key_prefix=parts[1])
    if api_key is None or api_key.revoked_at is not None:
        return None
    if not hmac.compare_digest(api_key.key_hash, hash_key(secret)):
        return None
    repository.touch(db_session=db_session, api_key_id=api_key.id, used_at=clock.now())
    return Principal(
        key_name=api_key.name,
        scopes=frozenset(Scope(scope) for scope in api_key.scopes),
        system_id=api_key.system_id,
    )
