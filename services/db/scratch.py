"""Scratch databases beside a real one: tests, benchmarks and the system harness each get their own.

One place creates and drops them, so the drop's one subtlety is handled once: ``DROP DATABASE ...
WITH (FORCE)`` terminates the database's other sessions, and a session still authenticating has
no role yet, so a non-superuser may not terminate it ("must be a member of the role whose
process is being terminated"). Such a session ends within milliseconds, so the drop retries.
"""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from services.db.migrate import migrate

_DROP_ATTEMPTS = 50
_DROP_RETRY_S = 0.1


def url_of(admin_url: str, database: str) -> str:
    """The URL of ``database`` on the same server, with the same credentials, as ``admin_url``."""
    return admin_url.rsplit("/", 1)[0] + "/" + database


def create_database(admin_url: str, prefix: str, *, migrated: bool = True) -> str:
    """A new database named ``<prefix>_<random>``, migrated unless asked not to; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = url_of(admin_url, name)
    if migrated:
        migrate(url, timescale="auto")
    return url


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names, ending its sessions; retried while one is authenticating."""
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for attempt in range(_DROP_ATTEMPTS):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.errors.InsufficientPrivilege:
                if attempt == _DROP_ATTEMPTS - 1:
                    raise
                time.sleep(_DROP_RETRY_S)


@contextmanager
def scratch_database(admin_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """``create_database`` for the length of a ``with`` block, then ``drop_database``."""
    url = create_database(admin_url, prefix, migrated=migrated)
    try:
        yield url
    finally:
        drop_database(admin_url, url)
