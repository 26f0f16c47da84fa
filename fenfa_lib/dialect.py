"""What differs between SQLite and PostgreSQL, in one place: the database a `database_url` names, the transaction
that reads before it writes, claiming rows, the locks of periodic jobs, the SQL functions that are spelled
differently, and which errors mean a database that is busy or out of reach. Everything else is written once through
Peewee."""
import fcntl
import zlib
from contextlib import contextmanager
from urllib.parse import urlsplit

from peewee import SQL, DatabaseError, InterfaceError, PostgresqlDatabase, fn
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from fenfa_lib.models import db

SQLITE_PREFIX = "sqlite:///"
IDLE_CONNECTION_SECONDS = 300
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another writer's lock before the request answers 503
CONNECT_TIMEOUT_SECONDS = 5
WRITE_LOCK = 0x66656E6661  # PostgreSQL advisory lock key ("fenfa") that write_transaction() takes
JOB_LOCKS = 0x6A6F6273  # the first of job_lock()'s two advisory lock keys ("jobs"); the job's name gives the second
BUSY_SQLSTATES = {"40001", "40P01", "55P03", "57014"}  # serialization failure, deadlock, lock or statement timeout
FULL_SQLSTATES = {"53100"}
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")  # connection lost or refused, out of resources, shutting down


def make_database(url):
    """A connection pool on the database `url` names (checked by config). Pooled: a request borrows an open
    connection instead of opening one and setting it up again (a third of what a small SQLite request cost). No
    cap: waitress's threads bound how many are in use at once."""
    if url.startswith(SQLITE_PREFIX):
        return PooledSqliteDatabase(
            sqlite_path(url), max_connections=None, stale_timeout=IDLE_CONNECTION_SECONDS,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal",
                     "busy_timeout": BUSY_TIMEOUT_MS},
            check_same_thread=False,  # a pooled connection serves whichever thread borrows it, one at a time
        )
    return PooledPostgresqlDatabase(
        url, max_connections=None, stale_timeout=IDLE_CONNECTION_SECONDS, prefer_psycopg3=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS, options=f"-c lock_timeout={BUSY_TIMEOUT_MS}",
    )


def sqlite_path(url):
    """The file of a `sqlite:///` URL, else None."""
    return url[len(SQLITE_PREFIX):] if url.startswith(SQLITE_PREFIX) else None


def shown_url(url):
    """A database URL without its password, for messages and logs."""
    if url.startswith(SQLITE_PREFIX):
        return url
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def database_label():
    """The bound database for messages: the SQLite file, or the PostgreSQL URL without its password."""
    return shown_url(db.database) if is_postgresql() else db.database


def is_postgresql():
    return isinstance(db.obj, PostgresqlDatabase)


@contextmanager
def write_transaction():
    """A transaction whose writes depend on what it reads first. On SQLite it takes the database's write lock at
    BEGIN (IMMEDIATE), waiting for it like any writer; on PostgreSQL it takes an advisory lock that all such
    transactions share, so they too run one at a time (waiting at most the lock timeout, then busy)."""
    if not is_postgresql():
        with db.atomic("IMMEDIATE"):
            yield
        return
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        yield


@contextmanager
def claiming_transaction():
    """A transaction that claims the rows claimable() reads, for this process alone: SQLite takes its write lock
    at BEGIN; PostgreSQL locks just those rows, so claims on other servers go on beside it."""
    with db.atomic() if is_postgresql() else db.atomic("IMMEDIATE"):
        yield


def claimable(query):
    """`query` as a claiming_transaction() reads it: on PostgreSQL FOR UPDATE SKIP LOCKED, passing over the rows
    another server's transaction is claiming instead of waiting for them."""
    return query.for_update(skip_locked=True) if is_postgresql() else query


@contextmanager
def job_lock(name):
    """Whether this process got the lock of job `name`, held for the block and by no other process at once (nor
    by another thread of this one): a PostgreSQL session advisory lock on the thread's connection (which a
    lost connection gives up), or a file lock beside the SQLite file. Never waits."""
    if is_postgresql():
        key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        held = db.execute_sql("SELECT pg_try_advisory_lock(%s, %s)", (JOB_LOCKS, key)).fetchone()[0]
        try:
            yield held
        finally:
            if held:
                db.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (JOB_LOCKS, key))
        return
    with open(f"{db.database}.{name}.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def day_text(timestamp):
    """SQL for the UTC day of a timestamp column as YYYY-MM-DD text (not turned back into a datetime)."""
    if is_postgresql():  # the format inline, not bound: GROUP BY must repeat the very expression SELECT has
        return fn.to_char(timestamp, SQL("'YYYY-MM-DD'")).coerce(False)
    return fn.strftime("%Y-%m-%d", timestamp).coerce(False)


def comma_joined(column):
    """SQL aggregating a text column's values of a group into one comma-separated text."""
    return fn.string_agg(column, ",") if is_postgresql() else fn.GROUP_CONCAT(column)


def database_fault(error):
    """"busy" when a database error means another transaction held what this one needed past the lock timeout
    (or PostgreSQL undid this one to resolve a conflict), "full" for a full disk, "unavailable" when the
    database cannot be reached or opened; None for any other error."""
    if not isinstance(error, (DatabaseError, InterfaceError)):
        return None
    if is_postgresql():
        return postgresql_fault(getattr(getattr(error, "orig", None), "sqlstate", None), error)
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return "busy"
    if "full" in text:
        return "full"
    if "disk i/o" in text or "unable to open" in text or "readonly" in text:
        return "unavailable"
    return None


def postgresql_fault(sqlstate, error):
    if sqlstate in BUSY_SQLSTATES:
        return "busy"
    if sqlstate in FULL_SQLSTATES:
        return "full"
    if sqlstate is None and type(error).__name__ in ("OperationalError", "InterfaceError"):
        return "unavailable"  # the driver's own: the connection failed or was lost, no server answered
    if sqlstate and sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return "unavailable"
    return None
