"""Engines and transactions over SQLite (WAL, shared by many processes) or PostgreSQL, and migrations."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import Unsupported
from . import epoch, latest, wirejson
from .schema import Base

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0014"  # the newest revision in migrations/versions (a test keeps the two in step)
VERSION_TABLE = Table(  # Alembic's own bookkeeping table, exactly as Alembic creates it
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(conn: Connection | None = None) -> Any:
    """Alembic's configuration for this package's migrations, bound to `conn` when given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _normalize(url: str) -> str:
    """`postgresql://` means psycopg 3 here, the driver the `[postgres]` extra installs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _private_files(database: str | None) -> None:
    """The SQLite file, created 0600 before SQLite opens it (its -wal and -shm take the same mode), and an
    older home's files narrowed to 0600: they hold sealed secrets and every key's digest."""
    if not database or database == ":memory:":
        return
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(database + suffix, 0o600)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, json_deserializer=wirejson.stored
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    # Writers take the lock up front: a deferred transaction that upgrades to a writer fails with
    # SQLITE_BUSY immediately instead of waiting, which is what breaks naive multi-process SQLite.
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(begin)

    return engine


class Store:
    """Read and write transactions on the platform's database."""

    def __init__(self, url: str) -> None:
        self.url = _normalize(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            _private_files(make_url(self.url).database)
            self.engine = _sqlite_engine(self.url, immediate=False)
            self._write_engine = _sqlite_engine(self.url, immediate=True)
        else:
            self.engine = create_engine(
                self.url, pool_size=10, max_overflow=20, pool_pre_ping=True, json_deserializer=wirejson.stored
            )
            self._write_engine = self.engine
        # SQLite lets one writer in at a time; its busy handler makes the others poll with sleeps of up to
        # 100 ms, so a freed lock sits idle while writers sleep (a tail for every write behind it). Writers of
        # this process queue on a lock instead and go in the moment the previous one commits.
        self._writing = threading.RLock() if self.is_sqlite else contextlib.nullcontext()
        self.sealer: Any = None  # the platform's `sealed.Sealer`, for code that holds only a session
        self._reader = sessionmaker(self.engine, expire_on_commit=False, info={"store": self})
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False, info={"store": self})

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        with self._writing, self._writer() as session, session.begin():
            yield session

    def lock(self, db: Session, name: str) -> None:
        """Serialize the writers that touch `name` (a blob digest) until `db` commits. SQLite's writers are
        serialized already (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock."""
        if not self.is_sqlite:
            db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})

    @contextlib.contextmanager
    def exclusive(self, lock_dir: Path) -> Iterator[None]:
        """Serialize one-time setup (migrations, provisioning) across every process sharing this store."""
        if self.is_sqlite:
            lock_dir.mkdir(parents=True, exist_ok=True)
            with open(lock_dir / ".setup.lock", "w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                yield
        else:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(5316)"))
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(5316)"))
                    conn.commit()

    def migrate(self) -> None:
        """Bring the schema to the newest revision; an existing home upgrades in place.

        A store already at HEAD costs one query, and a fresh one is created from the tables directly and
        stamped: Alembic (a fifth of a cold start) loads only when there is something to upgrade.
        """
        with self._write_engine.begin() as conn:
            _check_server(conn)
            current = _revision(conn)
            if current == HEAD:
                return
            if current is None and not inspect(conn).get_table_names():
                Base.metadata.create_all(conn)
                latest.install(conn)
                epoch.install(conn)
                VERSION_TABLE.create(conn)
                conn.execute(VERSION_TABLE.insert().values(version_num=HEAD))
                return
        self.upgrade("head")

    def upgrade(self, revision: str) -> None:
        """Run Alembic's migrations up to `revision` (the serialized setup's slow path; tests pin old ones)."""
        from alembic import command

        with self._write_engine.connect() as conn:
            command.upgrade(alembic_config(conn), revision)
            conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        self._write_engine.dispose()


OLDEST_POSTGRESQL = (13,)  # pg_current_snapshot(): what proves a kept listing page still true (listings)


def _check_server(conn: Connection) -> None:
    found = conn.dialect.server_version_info
    if conn.dialect.name == "postgresql" and found < OLDEST_POSTGRESQL:
        raise Unsupported(
            f"PostgreSQL {'.'.join(map(str, found))} is older than this platform supports.",
            code="Store.Unsupported", hint=f"Run the platform on PostgreSQL {OLDEST_POSTGRESQL[0]} or later.",
        )  # fmt: skip


def add_unique(db: Session, row: Any, conflict: Exception) -> None:
    """Insert `row` in a savepoint: a unique constraint it breaks raises `conflict`, the session intact."""
    db.add(row)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise conflict from None
