"""Opening the store: SQLite under the data dir by default, PostgreSQL by URL; migrations on open."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration: files are named NNNN_what.py with revision 'NNNN', each revising the one before
# (tests/test_migrations_chain.py checks that the chain has exactly this one head).
HEAD_REVISION = max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


from meshclaw.domain.errors import StoreError  # noqa: E402 - re-exported: the store's own error


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'meshclaw.sqlite'}"


def wal_pragmas(dbapi_conn, busy_ms: int) -> None:  # type: ignore[no-untyped-def]
    """WAL + synchronous=NORMAL: durable across process crashes, and ~10x faster than the defaults."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.close()


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        wal_pragmas(dbapi_conn, 10_000)
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    # BEGIN IMMEDIATE: a writer takes the lock up front, so concurrent writers queue instead of
    # failing with "database is locked" half-way through (the audit chain relies on this).
    @event.listens_for(engine, "begin")
    def on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
            _sqlite_pragmas(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (SQLAlchemyError, ImportError, ValueError) as e:
        raise StoreError(f"cannot use store URL: {e}") from None
    return engine


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            with s.begin():
                yield s

    def migrate(self) -> None:
        """Bring the schema to the newest revision. Cheap when it already is (one query, no Alembic import)."""
        try:
            with self.engine.connect() as conn:
                try:
                    current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                except (OperationalError, SQLAlchemyError):
                    conn.rollback()
                    current = None
                if current == HEAD_REVISION:
                    return
            from alembic import command
            from alembic.config import Config as AlembicConfig

            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as e:
            raise StoreError(f"cannot open the store at {self.safe_url}: {_first_line(e)}") from None

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)


def _first_line(e: Exception) -> str:
    return str(getattr(e, "orig", None) or e).strip().splitlines()[0]


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (SQLite gives its -wal and -shm files
    the database file's mode), and take group and other bits off an existing one: it holds user data."""
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def private_dir(path: Path) -> None:
    """Create the data dir (and parents) with mode 0700; a data dir MeshClaw made is never left open to others."""
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not existed:
        path.chmod(0o700)  # mkdir's mode is reduced by the umask; the final folder gets exactly 0700
