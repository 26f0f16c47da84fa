"""What servers on one database share, shown with two apps on one database (as two processes would be): the
server secret (configured, or created once in the database, or adopted from an older data dir's secret.key), and
the per-address lockouts and budgets."""
import pytest
from test_admin_pages import sign_in, signed_in

from fenfa_lib.config import ConfigError
from fenfa_lib.models import ServerSecret
from fenfa_lib.web.budget import BUDGETS_PER_MINUTE

from helpers import ADMIN_TOKEN, assert_error

CONFIGURED = "a-configured-secret-key-of-forty-characters"


@pytest.fixture
def elsewhere(make_app, data_dir, database, tmp_path):
    """elsewhere(name, **overrides) -> an app with a data dir of its own (another machine's) on the test's
    database."""

    def make(name="second-machine", **overrides):
        url = database or f"sqlite:///{data_dir / 'fenfa.db'}"
        return make_app(data_dir=tmp_path / name, database_url=url, **overrides)

    return make


def moved_session(first, second):
    """A client of `second` holding the session cookie `first` signed in with."""
    browser = first.test_client()
    assert sign_in(browser, ADMIN_TOKEN).status_code == 303
    other = second.test_client()
    other.set_cookie("session", browser.get_cookie("session").value)
    return other


def test_a_session_signed_in_on_one_server_works_on_another(make_app, elsewhere):
    first = make_app()
    second = elsewhere()
    assert first.secret_key == second.secret_key
    assert ServerSecret.select().count() == 1
    assert signed_in(moved_session(first, second))


def test_a_configured_secret_key_signs_instead_of_the_databases(make_app, elsewhere):
    configured = make_app(secret_key=CONFIGURED)
    assert configured.secret_key == CONFIGURED.encode()
    other = elsewhere()
    assert not signed_in(moved_session(configured, other))
    assert signed_in(moved_session(configured, elsewhere("third", secret_key=CONFIGURED)))


@pytest.mark.parametrize("value", ["too-short", "forty characters of secret, with spaces!!"])
def test_an_unusable_secret_key_stops_start_up(make_app, value):
    with pytest.raises(ConfigError, match="secret_key must be at least 32 characters"):
        make_app(secret_key=value)


def test_an_older_data_dirs_secret_key_file_is_adopted(make_app, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "secret.key").write_text("f" * 64)
    assert make_app().secret_key == b"f" * 64
    assert not (data_dir / "secret.key").exists()
    assert make_app().secret_key == b"f" * 64


def test_a_lockout_earned_on_one_server_holds_on_another(make_app, elsewhere):
    first, second = make_app(), elsewhere()
    for _ in range(10):
        assert sign_in(first.test_client(), "wrong").status_code == 401
    refused = second.test_client().get("/admin/api/products", headers={"X-Auth-Token": ADMIN_TOKEN})
    assert_error(refused, 429, "TOO_MANY_REQUESTS")
    other_address = second.test_client().get("/admin/api/products", headers={"X-Auth-Token": ADMIN_TOKEN},
                                             environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other_address.status_code == 200


def test_a_budget_spent_across_servers_is_spent_on_both(app, shop, elsewhere):
    click = {"type": "click", "release_id": shop["releases"]["android"]["id"]}
    limit = BUDGETS_PER_MINUTE["events"]
    clients = [app.test_client(), elsewhere().test_client()]
    answers = [clients[number % 2].post("/events", json=click).status_code for number in range(limit)]
    assert answers == [201] * limit
    for client in clients:
        assert_error(client.post("/events", json=click), 429, "TOO_MANY_REQUESTS")
