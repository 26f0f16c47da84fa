"""Faults of the machine answer 503 (or 507 for a full disk) in the envelope, never 500, and leave nothing
behind: another process holding the database's write lock, a full disk, failing storage."""
import errno
import sqlite3
from contextlib import contextmanager

import pytest
from peewee import OperationalError

from fenfa_lib import schema
from fenfa_lib.models import Event, Product, Release
from fenfa_lib.storage import LocalStorage, StorageError
from fenfa_lib.web.spool import HashingSpool

from helpers import ADMIN_TOKEN, Api, assert_error, assert_nothing_left

EXE = b"MZ" + b"\0" * 4096


@pytest.fixture
def busy_app(make_app, monkeypatch):
    """An app whose writes give up on a held write lock after 0.2 s instead of 5 s, with a release."""
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 200)
    app = make_app()
    api = Api(app.test_client(), ADMIN_TOKEN)
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    release = api.upload_release(variant["id"], "setup.exe", EXE)
    return app, api, variant, release


@contextmanager
def write_lock_held(data_dir):
    """Another process's writer, holding the database's write lock for the block."""
    other = sqlite3.connect(data_dir / "fenfa.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_reads_are_served_while_another_writer_holds_the_lock(busy_app, data_dir):
    app, api, variant, release = busy_app
    client = app.test_client()
    with write_lock_held(data_dir):
        assert client.get("/products/demo").status_code == 200  # served; the visit is left out
        assert client.get("/api/products/demo").status_code == 200
        download = client.get(f"/d/{release['id']}")
        assert (download.status_code, download.data) == (200, EXE)  # served; the count is left out
        assert client.get("/healthz").status_code == 200
        assert api.call("GET", "/admin/api/products").status_code == 200
        assert client.get("/admin").status_code == 200
    assert Event.select().where(Event.type.in_(["visit", "download"])).count() == 0


def test_writes_that_wait_too_long_answer_503_with_retry_after(busy_app, data_dir):
    app, api, variant, release = busy_app
    client = app.test_client()
    with write_lock_held(data_dir):
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
