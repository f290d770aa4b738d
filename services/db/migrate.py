"""Numbered SQL migrations for plain PostgreSQL and TimescaleDB.

File layout, checksum and statement-splitting rules: services/db/migrations/README.md.
deploy/timescale-check/check.mjs applies the same files by the same rules on TimescaleDB.
"""

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

import psycopg
from psycopg import sql

MIGRATIONS_TABLE = "perpwatch_schema_migrations"
# Session-level advisory lock held while migrating, so pods starting together
# apply migrations one after another. Arbitrary constant, unique to perpwatch.
MIGRATION_LOCK_KEY = 0x7065727077617463  # "perpwatc"

TimescaleMode = Literal["auto", "on", "off"]
Progress = Callable[[str], None]

_BASE_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_COMPANION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.timescale\.sql$")
_FORBIDDEN_IN_COMPANION = ("$$", "/*")

_CREATE_MIGRATIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    timescale   boolean     NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration could not be discovered, verified or applied."""


class ChecksumMismatchError(MigrationError):
    """An applied migration's files changed after it was applied."""


class TimescaleUnavailableError(MigrationError):
    """timescale="on" was asked for but the extension cannot be used."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    base_filename: str
    base_sql: str
    timescale_filename: str | None
    timescale_sql: str | None
    checksum: str


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[int, ...]
    """Versions whose base file ran in this call."""
    skipped: tuple[int, ...]
    """Versions already applied before this call."""
    timescale: bool
    """Whether TimescaleDB was in use (companions applied)."""
    timescale_applied: tuple[int, ...] = ()
    """Versions whose companion ran in this call, including late or retried ones."""
    unknown: tuple[int, ...] = ()
    """Versions recorded in the database but absent from this build (newer code ran)."""


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    applied: bool
    applied_at: datetime | None
    timescale: bool
    """Applied with TimescaleDB in use (companion, if any, applied)."""
    checksum_mismatch: bool = False
    """Applied, but the files have changed since: migrate() will refuse to run."""


def split_statements(text: str, filename: str) -> list[str]:
    """Split a companion file into statements (rule: migrations/README.md).

    Keep in step with splitStatements in deploy/timescale-check/check.mjs.
    """
    statements: list[str] = []
    pending: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        comment_or_blank = _is_comment_or_blank(line)
        for forbidden in _FORBIDDEN_IN_COMPANION:
            if not comment_or_blank and forbidden in line:
                raise MigrationError(
                    f"{filename}:{number}: {forbidden!r} is not allowed in a companion file "
                    "(see services/db/migrations/README.md)"
                )
        pending.append(line)
        if not comment_or_blank and line.rstrip().endswith(";"):
            if not all(_is_comment_or_blank(p) for p in pending):
                statements.append("\n".join(pending).strip())
            pending = []
    if not all(_is_comment_or_blank(p) for p in pending):
        raise MigrationError(f"{filename}: unterminated statement at end of file (no ';' at end of line)")
    return statements


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("--")


def discover_migrations(directory: Traversable | None = None) -> list[Migration]:
    """Read the migration files, by default those packaged in services/db/migrations."""
    source = directory if directory is not None else resources.files("services.db.migrations")
    bases: dict[int, tuple[str, str]] = {}
    companions: dict[int, tuple[str, str]] = {}
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if companion := _COMPANION_FILE.match(entry.name):
            companions[int(companion.group(1))] = (entry.name, companion.group(2))
        elif base := _BASE_FILE.match(entry.name):
            version = int(base.group(1))
            if version in bases:
                raise MigrationError(
                    f"duplicate migration version {version}: {bases[version][0]} and {entry.name}"
                )
            bases[version] = (entry.name, base.group(2))
    migrations: list[Migration] = []
    for version, (base_filename, name) in sorted(bases.items()):
        base_bytes = source.joinpath(base_filename).read_bytes()
        timescale_filename: str | None = None
        timescale_bytes: bytes | None = None
        if version in companions:
            timescale_filename, companion_name = companions.pop(version)
            if companion_name != name:
                raise MigrationError(f"{timescale_filename} does not match its base file {base_filename}")
            timescale_bytes = source.joinpath(timescale_filename).read_bytes()
            # Validate the split now, so a malformed companion fails on plain PostgreSQL too.
            split_statements(timescale_bytes.decode("utf-8"), timescale_filename)
        migrations.append(
            Migration(
                version=version,
                name=name,
                base_filename=base_filename,
                base_sql=base_bytes.decode("utf-8"),
                timescale_filename=timescale_filename,
                timescale_sql=timescale_bytes.decode("utf-8") if timescale_bytes is not None else None,
                checksum=_checksum(base_bytes, timescale_bytes),
            )
        )
    if companions:
        orphans = ", ".join(filename for filename, _ in companions.values())
        raise MigrationError(f"companion file(s) without a base file: {orphans}")
    return migrations


def _checksum(base: bytes, companion: bytes | None) -> str:
    base_digest = hashlib.sha256(base).hexdigest()
    if companion is None:
        return base_digest
    return f"{base_digest}:{hashlib.sha256(companion).hexdigest()}"


@dataclass(frozen=True)
class _Recorded:
    version: int
    name: str
    checksum: str
    timescale: bool
    applied_at: datetime


def _checksum_matches(recorded: _Recorded, migration: Migration) -> bool:
    """Compare only what was applied: the companion part counts once the companion ran."""
    recorded_base, _, recorded_companion = recorded.checksum.partition(":")
    current_base, _, current_companion = migration.checksum.partition(":")
    if recorded_base != current_base:
        return False
    return not recorded.timescale or recorded_companion == current_companion


def migrate(
    database_url: str,
    *,
    timescale: TimescaleMode = "auto",
    progress: Progress | None = None,
    migrations: Sequence[Migration] | None = None,
) -> MigrationReport:
    """Apply pending migrations; safe to run twice and from several processes at once."""
    if timescale not in ("auto", "on", "off"):
        raise ValueError(f"timescale must be 'auto', 'on' or 'off', not {timescale!r}")
    say = progress or (lambda _message: None)
    plan = list(migrations) if migrations is not None else discover_migrations()
    with psycopg.connect(database_url, autocommit=True) as conn:
        _acquire_lock(conn, say)
        try:
            use_timescale = _prepare_timescale(conn, timescale, say)
            conn.execute(_CREATE_MIGRATIONS_TABLE)
            recorded = _read_recorded(conn)
            _verify_checksums(plan, recorded)
            return _apply(conn, plan, recorded, use_timescale, say)
        finally:
            # A broken connection has lost the lock with its session already.
            if not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def status(database_url: str, *, migrations: Sequence[Migration] | None = None) -> list[MigrationStatus]:
    """Every known migration (and any recorded one this build does not know), applied or pending."""
    plan = list(migrations) if migrations is not None else discover_migrations()
    with psycopg.connect(database_url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,)).fetchone()
        recorded = _read_recorded(conn) if exists and exists[0] else {}
    statuses: list[MigrationStatus] = []
    for migration in plan:
        row = recorded.pop(migration.version, None)
        statuses.append(
            MigrationStatus(
                version=migration.version,
                name=migration.name,
                applied=row is not None,
                applied_at=row.applied_at if row else None,
                timescale=row.timescale if row else False,
                checksum_mismatch=row is not None and not _checksum_matches(row, migration),
            )
        )
    statuses.extend(
        MigrationStatus(
            version=row.version,
            name=row.name,
            applied=True,
            applied_at=row.applied_at,
            timescale=row.timescale,
        )
        for row in recorded.values()
    )
    return sorted(statuses, key=lambda s: s.version)


def _acquire_lock(conn: psycopg.Connection, say: Progress) -> None:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK_KEY,)).fetchone()
    if row and row[0]:
        return
    say("another process is migrating this database; waiting for it to finish")
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))


def _prepare_timescale(conn: psycopg.Connection, mode: TimescaleMode, say: Progress) -> bool:
    if mode == "off":
        return False
    installed = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if installed:
        return True
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    if not available:
        if mode == "on":
            raise TimescaleUnavailableError(
                "timescale='on' but the timescaledb extension is not available on this server "
                "(absent from pg_available_extensions); install TimescaleDB or use timescale='off'"
            )
        say("timescaledb extension not available: using plain PostgreSQL tables")
        return False
    say("creating extension timescaledb")
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as error:
        # Typically missing shared_preload_libraries or privileges. Falling back
        # silently would build plain tables on a server meant for TimescaleDB.
        raise TimescaleUnavailableError(
            f"the timescaledb extension is available but CREATE EXTENSION failed: {error}; "
            "fix the server (shared_preload_libraries = 'timescaledb', privileges) or use timescale='off'"
        ) from error
    return True


def _read_recorded(conn: psycopg.Connection) -> dict[int, _Recorded]:
    query = sql.SQL("SELECT version, name, checksum, timescale, applied_at FROM {} ORDER BY version").format(
        sql.Identifier(MIGRATIONS_TABLE)
    )
    return {row[0]: _Recorded(*row) for row in conn.execute(query).fetchall()}


def _verify_checksums(plan: Iterable[Migration], recorded: dict[int, _Recorded]) -> None:
    mismatched = [
        f"{m.version:04d}_{m.name} ({_changed_files(recorded[m.version], m)})"
        for m in plan
        if m.version in recorded and not _checksum_matches(recorded[m.version], m)
    ]
    if mismatched:
        raise ChecksumMismatchError(
            "applied migration(s) changed since they were applied: "
            + "; ".join(mismatched)
            + ". Applied migrations are immutable: restore the files and add a new migration instead."
        )


def _changed_files(recorded: _Recorded, migration: Migration) -> str:
    recorded_base, _, recorded_companion = recorded.checksum.partition(":")
    current_base, _, current_companion = migration.checksum.partition(":")
    changed = []
    if recorded_base != current_base:
        changed.append(migration.base_filename)
    if recorded.timescale and recorded_companion != current_companion:
        changed.append(
            migration.timescale_filename or f"{migration.version:04d}_{migration.name}.timescale.sql"
        )
    return "changed: " + ", ".join(changed)


def _apply(
    conn: psycopg.Connection,
    plan: Sequence[Migration],
    recorded: dict[int, _Recorded],
    use_timescale: bool,
    say: Progress,
) -> MigrationReport:
    applied: list[int] = []
    skipped: list[int] = []
    timescale_applied: list[int] = []
    for migration in plan:
        previous = recorded.get(migration.version)
        if previous is None:
            _apply_base(conn, migration, say)
            applied.append(migration.version)
        else:
            skipped.append(migration.version)
        # A companion also runs when its base was applied without TimescaleDB (extension
        # added later: migrate_data converts the filled tables) or when it died half way.
        if use_timescale and (previous is None or not previous.timescale):
            if migration.timescale_filename is not None and migration.timescale_sql is not None:
                _apply_companion(conn, migration.timescale_filename, migration.timescale_sql, say)
                timescale_applied.append(migration.version)
            conn.execute(
                sql.SQL("UPDATE {} SET timescale = true, checksum = %s WHERE version = %s").format(
                    sql.Identifier(MIGRATIONS_TABLE)
                ),
                (migration.checksum, migration.version),
            )
    known = {m.version for m in plan}
    unknown = tuple(sorted(v for v in recorded if v not in known))
    if unknown:
        say(f"database has migration(s) this build does not know: {', '.join(map(str, unknown))}")
    if not applied and not timescale_applied:
        say("database schema is up to date")
    return MigrationReport(
        applied=tuple(applied),
        skipped=tuple(skipped),
        timescale=use_timescale,
        timescale_applied=tuple(timescale_applied),
        unknown=unknown,
    )


def _apply_base(conn: psycopg.Connection, migration: Migration, say: Progress) -> None:
    say(f"applying {migration.base_filename}")
    try:
        with conn.transaction():
            # No parameters: psycopg sends the whole file as one simple query.
            conn.execute(migration.base_sql.encode("utf-8"))
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (version, name, checksum, timescale) VALUES (%s, %s, %s, false)"
                ).format(sql.Identifier(MIGRATIONS_TABLE)),
                (migration.version, migration.name, migration.checksum),
            )
    except psycopg.Error as error:
        where = ""
        if error.diag.statement_position:
            # Character offset (1-based) into the file: report it as a line number.
            offset = int(error.diag.statement_position) - 1
            where = f":{migration.base_sql[:offset].count(chr(10)) + 1}"
        raise MigrationError(
            f"{migration.base_filename}{where} failed and was rolled back: {error}"
        ) from error


def _apply_companion(conn: psycopg.Connection, filename: str, text: str, say: Progress) -> None:
    statements = split_statements(text, filename)
    say(f"applying {filename} ({len(statements)} statements)")
    for index, statement in enumerate(statements, start=1):
        try:
            conn.execute(statement.encode("utf-8"))
        except psycopg.Error as error:
            raise MigrationError(
                f"{filename}: statement {index} of {len(statements)} failed: {error}\n"
                f"--- statement ---\n{statement}\n"
                "Companions are idempotent: fix the cause and run migrate again."
            ) from error
