"""Configuration order, the broken-config failure and first-start token generation."""
import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from fenfa import create_app
from fenfa_lib.config import DEFAULTS, ConfigError, load_config

from helpers import ADMIN_TOKEN
from live import fenfa_command, live_fenfa

REPO = Path(__file__).resolve().parent.parent


def write_config(tmp_path, values):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    return path


def test_defaults(monkeypatch):
    config = load_config()
    assert (config["host"], config["port"], config["max_upload_mb"], config["trusted_proxies"]) == (
        "0.0.0.0", 8000, 4096, 0,
    )
    assert (config["threads"], config["connection_limit"], config["channel_timeout"]) == (8, 1000, 300)
    assert (config["accel_redirect"], config["log_format"]) == ("", "text")
    # Relative to the configuration file's folder (the tests' FENFA_CONFIG), not to the working directory.
    assert config["data_dir"] == Path(os.environ["FENFA_CONFIG"]).parent / "data"
    assert config["admin_token"] == []
    assert config["database_url"] == f"sqlite:///{config['data_dir'] / 'fenfa.db'}"


@pytest.mark.parametrize("url", [
    "mysql://fenfa:hunter2@db/fenfa", "postgres://fenfa:hunter2@db/fenfa", "postgresql://fenfa:hunter2@db",
    "postgresql://fenfa:hunter2@db/", "postgresql://fenfa:hunter2@db/a/b",
    "postgresql://fenfa:hunter2@db:99999/fenfa", "postgresql://fenfa:hunter2@db:0/fenfa",
    "postgresql://fenfa:hunter2@db/fenfa#x", "postgresql://fenfa:hunter2@db/fen fa",
    "sqlite:///relative/hunter2.db", "sqlite:////srv/hunter2.db?mode=ro", "hunter2",
])
def test_a_bad_database_url_is_refused_without_quoting_it(monkeypatch, url):
    monkeypatch.setenv("FENFA_DATABASE_URL", url)
    with pytest.raises(ConfigError, match="database_url must") as refused:
        load_config()
    assert "hunter2" not in str(refused.value)


def test_a_sqlite_database_url_may_name_another_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FENFA_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    app = create_app({"data_dir": tmp_path / "data", "admin_token": [ADMIN_TOKEN]})
    assert (tmp_path / "elsewhere.db").is_file() and not (tmp_path / "data" / "fenfa.db").exists()
    assert app.test_client().get("/healthz").status_code == 200


def test_an_unreachable_database_is_a_one_line_start_up_error(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "fenfa.py"), "--port", "0"],
        env={"FENFA_CONFIG": str(write_config(tmp_path, {})), "PATH": "/usr/bin:/bin",
             "FENFA_DATA_DIR": str(tmp_path / "data"), "FENFA_DATABASE_URL": "postgresql://fenfa:hunter2@127.0.0.1:1/fenfa"},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("fenfa: cannot open the database postgresql://fenfa@127.0.0.1:1/fenfa: ")
    assert result.stderr.count("\n") == 1 and "hunter2" not in result.stderr


def test_postgresql_without_its_driver_is_a_one_line_start_up_error(tmp_path):
    argv, env = fenfa_command(tmp_path / "data", "--port", "0", without=["psycopg"],
                              database_url="postgresql://fenfa:hunter2@127.0.0.1:1/fenfa")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert "driver is not installed: make postgres" in result.stderr
    assert result.stderr.count("\n") == 1 and "hunter2" not in result.stderr


def test_make_runs_install_serves_without_the_postgresql_driver(tmp_path):
    """`make run` installs requirements.txt alone: SQLite needs nothing of PostgreSQL's."""
    with live_fenfa(tmp_path / "data", without=["psycopg"], admin_token=ADMIN_TOKEN) as server:
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as answer:
            assert answer.status == 200


def test_file_then_environment_then_overrides(monkeypatch, tmp_path):
    path = write_config(tmp_path, {"port": 9000, "max_upload_mb": 10, "primary_domain": "https://a.example"})
    monkeypatch.setenv("FENFA_CONFIG", str(path))
    assert load_config()["port"] == 9000
    monkeypatch.setenv("FENFA_PORT", "9100")
    monkeypatch.setenv("FENFA_ADMIN_TOKEN", "one,two")
    config = load_config()
    assert (config["port"], config["max_upload_mb"], config["admin_token"]) == (9100, 10, ["one", "two"])
    config = load_config({"port": 9200})
    assert (config["port"], config["primary_domain"]) == (9200, "https://a.example")


# For each configuration key: a value for its FENFA_* variable, and what load_config makes of it (not the default).
ENVIRONMENT_EXAMPLES = {
    "host": ("127.0.0.1", "127.0.0.1"),
    "port": ("9100", 9100),
    "data_dir": ("/srv/fenfa-data", Path("/srv/fenfa-data").resolve()),
    "database_url": ("postgresql://fenfa:secret@db.internal:5432/fenfa", "postgresql://fenfa:secret@db.internal:5432/fenfa"),
    "primary_domain": ("https://apps.example.com/", "https://apps.example.com"),
    "admin_token": ("one, two", ["one", "two"]),
    "upload_token": ("three", ["three"]),
    "max_upload_mb": ("10", 10),
    "trusted_proxies": ("1", 1),
    "apple_api_url": ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    "udid_signing_cert": ("/tmp/cert.pem", "/tmp/cert.pem"),
    "udid_signing_key": ("/tmp/key.pem", "/tmp/key.pem"),
    "threads": ("4", 4),
    "connection_limit": ("50", 50),
    "channel_timeout": ("60", 60),
    "accel_redirect": ("/protected/", "/protected/"),
    "log_format": ("json", "json"),
    "webhook_allow_private": ("true", True),
    "secret_key": ("0123456789abcdef" * 4, "0123456789abcdef" * 4),
}


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_every_key_has_an_environment_variable(monkeypatch, key):
    assert key in ENVIRONMENT_EXAMPLES, f"add an example value for FENFA_{key.upper()} to ENVIRONMENT_EXAMPLES"
    value, expected = ENVIRONMENT_EXAMPLES[key]
    assert load_config()[key] != expected
    monkeypatch.setenv(f"FENFA_{key.upper()}", value)
    assert load_config()[key] == expected


def test_broken_config_names_the_file_and_line(monkeypatch, tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "port": 8000,\n  "host": \n}\n')
    monkeypatch.setenv("FENFA_CONFIG", str(path))
    with pytest.raises(ConfigError, match=rf"{path}: invalid JSON at line 4"):
        load_config()


@pytest.mark.parametrize(
    "values,message",
    [({"port": "eighty"}, "port must be an integer"), ({"colour": "red"}, "unknown key"),
     ({"admin_token": 5}, "admin_token")],
)
def test_bad_values_are_refused(monkeypatch, tmp_path, values, message):
    monkeypatch.setenv("FENFA_CONFIG", str(write_config(tmp_path, values)))
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_server_refuses_to_start_on_a_broken_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{ nope")
    result = subprocess.run(
        [sys.executable, str(REPO / "fenfa.py"), "--port", "0"],
        env={"FENFA_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode != 0
    assert f"{path}: invalid JSON at line 1" in result.stderr


def test_first_start_generates_tokens_once(data_dir, capsys):
    app = create_app({"data_dir": data_dir})
    tokens_file = data_dir / "tokens.json"
    stored = json.loads(tokens_file.read_text())
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    printed = capsys.readouterr().out
    assert stored["admin_token"] in printed and stored["upload_token"] in printed
    assert len(stored["admin_token"]) >= 32 and stored["admin_token"] != stored["upload_token"]
    client = app.test_client()
    assert client.get("/admin/api/products", headers={"X-Auth-Token": stored["admin_token"]}).status_code == 200
    assert client.get("/admin/api/products", headers={"X-Auth-Token": stored["upload_token"]}).status_code == 403

    again = create_app({"data_dir": data_dir})
    assert capsys.readouterr().out == ""
    assert again.config["FENFA"]["admin_token"] == [stored["admin_token"]]


def test_configured_admin_token_generates_nothing(data_dir):
    create_app({"data_dir": data_dir, "admin_token": "configured"})
    assert not (data_dir / "tokens.json").exists()


def test_configured_primary_domain_is_checked(monkeypatch):
    monkeypatch.setenv("FENFA_PRIMARY_DOMAIN", "apps.example.com")
    with pytest.raises(ConfigError, match="primary_domain must be an http"):
        load_config()
    monkeypatch.setenv("FENFA_PRIMARY_DOMAIN", "https://apps.example.com:8443/fenfa/")
    assert load_config()["primary_domain"] == "https://apps.example.com:8443/fenfa"


@pytest.mark.parametrize("content", [b"short", b"\xff\xfe" * 40])
def test_unusable_secret_key_stops_start_up_with_a_message(make_app, data_dir, content):
    data_dir.mkdir(parents=True)
    (data_dir / "secret.key").write_bytes(content)
    with pytest.raises(ConfigError, match="secret.key holds no usable key"):
        make_app()


def test_a_database_from_an_older_version_gets_the_new_columns(make_app, data_dir):
    import sqlite3

    make_app()
    with sqlite3.connect(data_dir / "fenfa.db") as connection:
        connection.execute("PRAGMA user_version = 0")  # databases made before schema versions carry none
        connection.execute("ALTER TABLE settings DROP COLUMN s3_path_style")
        connection.execute("DROP TABLE udidnonce")
        connection.execute(
            "CREATE TABLE udidnonce (nonce VARCHAR(255) NOT NULL PRIMARY KEY, variant_id VARCHAR(255) NOT NULL "
            "REFERENCES variant (id) ON DELETE CASCADE, created_at DATETIME NOT NULL, expires_at DATETIME NOT NULL, "
            "used_at DATETIME)")
    client = make_app().test_client()
    assert client.get("/healthz").status_code == 200
    settings = client.get("/admin/api/settings", headers={"X-Auth-Token": ADMIN_TOKEN}).json["data"]
    assert settings["s3_path_style"] is True
    with sqlite3.connect(data_dir / "fenfa.db") as connection:
        assert "device_id" in {row[1] for row in connection.execute("PRAGMA table_info(udidnonce)")}
