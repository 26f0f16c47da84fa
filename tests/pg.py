"""A real PostgreSQL server for tests: Debian's `initdb` and `pg_ctl` in a temporary folder on a free loopback port.

PostgreSQL refuses to run as root, and the tests run as root on CI: there the server runs as the `postgres` user
Debian's package creates (or a `fenfa-test` system user made for it). Durability is off (fsync, synchronous
commit): the data is thrown away at the end. Each test gets a database of its own, copied from a template.
"""
import glob
import itertools
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from live import free_port

HOST = "127.0.0.1"
SUPERUSER = "fenfa"
SERVER_USERS = ("postgres", "fenfa-test")  # who runs the server when the tests run as root; the last is made
SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
                   "shared_buffers": "32MB"}
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "max_connections": "200",
                    "shared_buffers": "128MB"}
TEMPLATE = "fenfa_template"


def find_postgres_bin():
    """The folder of `initdb` and `pg_ctl`: the one on PATH, else the newest /usr/lib/postgresql/*/bin; or None."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[4]))
    return Path(installed[-1]).parent if installed else None


@dataclass
class PostgresServer:
    """A running server; `create_database()` gives a fresh database copied from the template."""

    port: int
    admin: psycopg.Connection
    log_path: Path
    template: str = TEMPLATE
    _numbers: itertools.count = field(default_factory=itertools.count)

    def url(self, database):
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def create_database(self, template=None):
        name = f"test_{next(self._numbers)}"
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template or self.template}"')
        return name

    def drop_database(self, name):
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_user():
    """The user the server runs as when this process is root (None otherwise), made if there is none."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USERS[-1]],
                   check=True, capture_output=True)
    return SERVER_USERS[-1]


def run_as(user, command, **options):
    return subprocess.run(["runuser", "-u", user, "--", *command] if user else command, check=True,
                          capture_output=True, text=True, **options)


@contextmanager
def running_postgres(timeout=30, durable=False):
    """Start a server in a temporary folder and yield a PostgresServer with an empty template database; stop it
    and delete the folder afterwards. `durable` keeps PostgreSQL's own fsync and commit settings (benchmarks)."""
    binaries = find_postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL's initdb not found (apt-get install postgresql)")
    user = server_user()
    with tempfile.TemporaryDirectory(prefix="fenfa-pg-") as workdir:
        workdir = Path(workdir)
        if user:
            shutil.chown(workdir, user)
        data, log_path, port = workdir / "data", workdir / "server.log", free_port()
        try:
            run_as(user, [str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                          "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
            settings = {**(DURABLE_SETTINGS if durable else SERVER_SETTINGS),
                        "listen_addresses": HOST, "port": str(port),
                        "unix_socket_directories": str(workdir)}
            options = " ".join(f"-c {name}={value}" for name, value in settings.items())
            run_as(user, [str(binaries / "pg_ctl"), "start", "-D", str(data), "-l", str(log_path), "-w",
                          "-t", str(timeout), "-o", options])
        except subprocess.CalledProcessError as exc:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr or exc.stdout}\n{tail}") from None
        try:
            with psycopg.connect(host=HOST, port=port, user=SUPERUSER, dbname="postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
                yield PostgresServer(port, admin, log_path)
        finally:
            run_as(user, [str(binaries / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"])


@contextmanager
def separate_connection(database_url):
    """A DB-API connection of its own (each statement committed) to the database `database_url` names, as
    another Fenfa instance would have: for tests that read or write behind the app's back."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url[len("sqlite:///"):])
        connection = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, isolation_level=None)
    else:
        connection = psycopg.connect(database_url, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


def column_names(connection, table):
    """The columns of `table`, in order, through a separate_connection."""
    if isinstance(connection, sqlite3.Connection):
        return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
    rows = connection.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                              "ORDER BY ordinal_position", (table,))
    return [row[0] for row in rows]
