"""Faults of the machine answer 503 (or 507 for a full disk) in the envelope, never 500, and leave nothing
behind: another process holding the database's write lock (on SQLite and on PostgreSQL), a database out of reach,
a full disk, failing storage."""
import errno
import sqlite3
from contextlib import contextmanager

import psycopg
import pytest
from peewee import OperationalError

from fenfa_lib import dialect
from fenfa_lib.models import Event, Product, Release
from fenfa_lib.storage import LocalStorage, StorageError
from fenfa_lib.web.spool import HashingSpool

from helpers import ADMIN_TOKEN, Api, assert_error, assert_nothing_left
from pg import separate_connection

EXE = b"MZ" + b"\0" * 4096


@pytest.fixture
def busy_app(make_app, monkeypatch):
    """An app whose writes give up on a held write lock after 0.2 s instead of 5 s, with a release."""
    monkeypatch.setattr(dialect, "BUSY_TIMEOUT_MS", 200)
    app = make_app()
    api = Api(app.test_client(), ADMIN_TOKEN)
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    release = api.upload_release(variant["id"], "setup.exe", EXE)
    return app, api, variant, release


@contextmanager
def write_lock_held(app):
    """Another process's writer, holding the database's write lock for the block: on PostgreSQL, every table
    locked against writes (reads go on) and the lock write_transaction takes."""
    with separate_connection(app.config["FENFA"]["database_url"]) as other:
        if isinstance(other, sqlite3.Connection):
            other.execute("BEGIN IMMEDIATE")
        else:
            other.execute("BEGIN")
            tables = [row[0] for row in other.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            other.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
            other.execute("SELECT pg_advisory_xact_lock(%s)", (dialect.WRITE_LOCK,))
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_reads_are_served_while_another_writer_holds_the_lock(busy_app):
    app, api, variant, release = busy_app
    client = app.test_client()
    with write_lock_held(app):
        assert client.get("/products/demo").status_code == 200  # served; the visit is left out
        assert client.get("/api/products/demo").status_code == 200
        download = client.get(f"/d/{release['id']}")
        assert (download.status_code, download.data) == (200, EXE)  # served; the count is left out
        assert client.get("/healthz").status_code == 200
        assert api.call("GET", "/admin/api/products").status_code == 200
        assert client.get("/admin").status_code == 200
    assert Event.select().where(Event.type.in_(["visit", "download"])).count() == 0


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_writes_that_wait_too_long_answer_503_with_retry_after(busy_app, data_dir):
    app, api, variant, release = busy_app
    client = app.test_client()
    with write_lock_held(app):
        for response in (
            client.post("/events", json={"type": "click", "release_id": release["id"]}),
            api.call("POST", "/admin/api/products", json={"name": "Other", "slug": "other"}),
            api.call("PUT", "/admin/api/settings", json={"organization": "Busy Ltd"}),
        ):
            assert_error(response, 503, "SERVICE_UNAVAILABLE", "the database is busy")
            assert response.headers["Retry-After"] == "5"
        upload = api.upload(variant["id"], "second.exe", EXE)
        assert_error(upload, 503, "SERVICE_UNAVAILABLE", "the database is busy")
    assert Release.select().count() == 1 and Product.select().count() == 1
    stored = [path.name for path in (data_dir / "uploads").rglob("*") if path.is_file()]
    assert sorted(stored) == ["meta.json", "setup.exe"]
    assert list((data_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_postgresql_database_out_of_reach_is_503(busy_app, database, postgres_server):
    app, api, variant, release = busy_app
    name = database.rsplit("/", 1)[1]
    postgres_server.admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    postgres_server.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    response = api.call("GET", "/admin/api/products")
    assert_error(response, 503, "SERVICE_UNAVAILABLE", "the database is unavailable")
    assert response.headers["Retry-After"] == "5"
    assert app.test_client().get(f"/d/{release['id']}").status_code == 503
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database).close()


def test_a_full_disk_while_an_upload_is_spooled_is_507_and_leaves_nothing(api, data_dir, monkeypatch):
    variant = api.create_variant(api.create_product()["id"], platform="windows")

    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(HashingSpool, "write", disk_full)
    assert_error(api.upload(variant["id"], "setup.exe", EXE), 507, "INSUFFICIENT_STORAGE", "disk is full")
    assert_nothing_left(data_dir)


def test_a_full_database_is_507(api, shop, monkeypatch):
    def full(*args, **kwargs):
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(Event, "create", full)
    response = api.client.post("/events", json={"type": "click", "release_id": shop["releases"]["android"]["id"]})
    assert_error(response, 507, "INSUFFICIENT_STORAGE", "disk is full")


def test_healthz_names_a_full_disk(client, monkeypatch):
    def full(self):
        raise StorageError("local storage is not writable") from OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalStorage, "check", full)
    assert_error(client.get("/healthz"), 503, "SERVICE_UNAVAILABLE", "storage unavailable: the disk is full")


def test_a_failing_disk_is_503_on_pages_too(client, monkeypatch, shop):
    def failing(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("fenfa_lib.web.public.visitor_page", failing)
    response = client.get("/products/demo")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "5"
