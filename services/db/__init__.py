"""Database schema management: numbered SQL migrations for PostgreSQL and TimescaleDB."""

from services.db.migrate import (
    ChecksumMismatchError,
    Migration,
    MigrationError,
    MigrationReport,
    MigrationStatus,
    TimescaleUnavailableError,
    discover_migrations,
    migrate,
    split_statements,
    status,
)

__all__ = [
    "ChecksumMismatchError",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "MigrationStatus",
    "TimescaleUnavailableError",
    "discover_migrations",
    "migrate",
    "split_statements",
    "status",
]
