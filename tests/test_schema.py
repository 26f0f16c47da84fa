"""The schema's version: a database made before versions is upgraded in place, a newer one is refused, a failed
migration leaves nothing behind; on SQLite (PRAGMA user_version) and on PostgreSQL (the schema_version table)."""
import shutil
import sqlite3
from pathlib import Path

import pytest

from fenfa import create_app
from fenfa_lib import schema
from fenfa_lib.config import ConfigError
from fenfa_lib.schema import SCHEMA_VERSION

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api
from pg import column_names, separate_connection

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "fenfa-0.9-unversioned.db"


def user_version(path):
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA user_version").fetchone()[0]


def open_app(data_dir):
    return create_app({"data_dir": data_dir, "admin_token": [ADMIN_TOKEN], "upload_token": [UPLOAD_TOKEN]})


def test_a_database_made_before_schema_versions_is_upgraded_and_keeps_its_rows(data_dir):
    data_dir.mkdir()
    shutil.copy(FIXTURE, data_dir / "fenfa.db")
    assert user_version(data_dir / "fenfa.db") == 0
    api = Api(open_app(data_dir).test_client(), ADMIN_TOKEN)
    assert user_version(data_dir / "fenfa.db") == SCHEMA_VERSION
    product = api.data("GET", "/admin/api/products")["items"][0]
    assert (product["name"], product["slug"]) == ("Legacy App", "legacy")
    [variant] = api.data("GET", f"/admin/api/products/{product['id']}")["variants"]
    [release] = variant["releases"]
    assert (release["version"], release["file_name"], release["download_count"]) == ("1.0", "setup.exe", 1)
    api.data("PUT", f"/admin/api/variants/{variant['id']}", json={"display_name": "Windows x64"})
    assert len(api.data("GET", "/admin/api/events")["items"]) == 2


def row_counts(path):
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}


def test_every_row_survives_the_upgrade(data_dir):
    """Adding a NOT NULL column makes SQLite rebuild the table; with foreign keys on, dropping the old copy would
    cascade to the rows that refer to it."""
    data_dir.mkdir()
    shutil.copy(FIXTURE, data_dir / "fenfa.db")
    before = row_counts(data_dir / "fenfa.db")
    open_app(data_dir)
    after = row_counts(data_dir / "fenfa.db")
    assert {table: after[table] for table in before} == before and before["release"] == 1


def test_opening_an_upgraded_database_again_changes_nothing(data_dir):
    data_dir.mkdir()
    shutil.copy(FIXTURE, data_dir / "fenfa.db")
    open_app(data_dir)
    open_app(data_dir)
    assert user_version(data_dir / "fenfa.db") == SCHEMA_VERSION


def database_url(app):
    return app.config["FENFA"]["database_url"]


def stored_version(url):
    """The schema version a database holds, read through a connection of its own."""
    with separate_connection(url) as connection:
        if isinstance(connection, sqlite3.Connection):
            return connection.execute("PRAGMA user_version").fetchone()[0]
        return connection.execute('SELECT "value" FROM "schema_version"').fetchone()[0]


def set_stored_version(url, version):
    with separate_connection(url) as connection:
        if isinstance(connection, sqlite3.Connection):
            connection.execute(f"PRAGMA user_version = {version}")
        else:
            connection.execute('UPDATE "schema_version" SET "value" = %s', (version,))


def test_a_new_database_starts_at_the_current_version(make_app):
    app = make_app()
    assert stored_version(database_url(app)) == SCHEMA_VERSION
    make_app()
    assert stored_version(database_url(app)) == SCHEMA_VERSION


def test_a_database_from_a_newer_fenfa_is_refused(make_app):
    url = database_url(make_app())
    set_stored_version(url, SCHEMA_VERSION + 1)
    with pytest.raises(ConfigError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this Fenfa's"):
        make_app()
    assert stored_version(url) == SCHEMA_VERSION + 1


def test_a_failing_migration_leaves_the_database_at_its_version(make_app, monkeypatch):
    """Each migration runs in one transaction: on PostgreSQL as on SQLite, a half-done schema change is undone."""
    url = database_url(make_app())

    def half_done():
        schema.db.execute_sql('ALTER TABLE "product" ADD COLUMN "half_done" TEXT')
        raise RuntimeError("the migration broke")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION + 1, half_done)
    with pytest.raises(RuntimeError, match="broke"):
        make_app()
    with separate_connection(url) as connection:
        assert "half_done" not in column_names(connection, "product")
    assert stored_version(url) == SCHEMA_VERSION


def test_a_failing_migration_leaves_the_database_as_it_was(data_dir, monkeypatch):
    data_dir.mkdir()
    shutil.copy(FIXTURE, data_dir / "fenfa.db")

    def half_done():
        schema.db.execute_sql("ALTER TABLE product ADD COLUMN half_done TEXT")
        raise RuntimeError("the migration broke")

    monkeypatch.setitem(schema.MIGRATIONS, 1, half_done)
    with pytest.raises(RuntimeError, match="broke"):
        open_app(data_dir)
    with sqlite3.connect(data_dir / "fenfa.db") as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(product)")]
    assert "half_done" not in columns
    assert user_version(data_dir / "fenfa.db") == 0


def test_the_upgrade_adds_the_indexes_variant_statistics_read(data_dir):
    data_dir.mkdir()
    shutil.copy(FIXTURE, data_dir / "fenfa.db")
    open_app(data_dir)
    with sqlite3.connect(data_dir / "fenfa.db") as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        plan = " ".join(row[3] for row in connection.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM event WHERE product_id = ? AND type = 'visit' AND variant_id = ''",
            ("prd_x",)))
    assert set(schema.STATS_INDEXES) <= names
    assert "COVERING INDEX event_product_type_variant" in plan
