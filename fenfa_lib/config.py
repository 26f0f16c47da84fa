"""Configuration: defaults, then config.json, then FENFA_* environment, then the caller's dict.

Every key has an environment variable of the same name in upper case with a `FENFA_` prefix
(`max_upload_mb` <-> `FENFA_MAX_UPLOAD_MB`).
"""
import importlib.util
import json
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fenfa_lib.text import is_single_token

DEFAULTS = {
    "host": "0.0.0.0",
    "port": 8000,
    "data_dir": "data",
    "database_url": "",
    "primary_domain": "",
    "admin_token": [],
    "upload_token": [],
    "max_upload_mb": 4096,
    "trusted_proxies": 0,
    "apple_api_url": "https://api.appstoreconnect.apple.com",
    "udid_signing_cert": "",
    "udid_signing_key": "",
    "threads": 8,
    "connection_limit": 1000,
    "channel_timeout": 300,
    "accel_redirect": "",
    "log_format": "text",
    "webhook_allow_private": False,
    "secret_key": "",
}
INT_KEYS = {"port", "max_upload_mb", "trusted_proxies", "threads", "connection_limit", "channel_timeout"}
POSITIVE_KEYS = {"threads", "connection_limit", "channel_timeout"}
LOG_FORMATS = ("text", "json")
BOOLEAN_KEYS = {"webhook_allow_private"}
BOOLEAN_TEXTS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}
TOKEN_KEYS = {"admin_token", "upload_token"}
SECRET_FILE = "secret.key"  # where servers before schema 7 kept the generated secret
MIN_SECRET_LENGTH = 32
TOKENS_FILE = "tokens.json"
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config.json"
HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+")
MIB = 1024 * 1024
DEFAULT_PRESIGN_SECONDS = 900  # how long a presigned S3 download link stays valid unless an admin sets it
FORM_ALLOWANCE = MIB  # room for an upload's form fields and multipart framing beside the file
MAX_SMALL_BODY = 64 * 1024  # the largest body any route but the upload routes reads
DATABASE_FILE = "fenfa.db"  # in the data dir, unless database_url names another database
DATABASE_URL_FORMS = "sqlite:////absolute/path.db or postgresql://user:password@host:port/database"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which file or key and why."""


def load_config(overrides=None):
    """Return the effective configuration as a plain dict with typed values. A relative `data_dir` is
    relative to the configuration file's folder (the repo root for the default file)."""
    named = os.environ.get("FENFA_CONFIG")
    path = Path(named).absolute() if named else DEFAULT_CONFIG_FILE
    if named and not path.is_file():
        raise ConfigError(f"{path}: no such configuration file (FENFA_CONFIG names it)")
    config = dict(DEFAULTS)
    config.update(_read_config_file(path))
    for key in DEFAULTS:
        env_name = "FENFA_" + key.upper()
        if env_name in os.environ:
            config[key] = os.environ[env_name]
    config.update(overrides or {})
    config["data_dir"] = path.parent / config["data_dir"]
    return _normalise(config)


def _read_config_file(path):
    if not path.exists():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: must hold a JSON object")
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s): {', '.join(unknown)}")
    return values


def _normalise(config):
    for key in INT_KEYS:
        try:
            config[key] = int(config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be an integer, got {config[key]!r}") from None
        if config[key] < (1 if key in POSITIVE_KEYS else 0):
            raise ConfigError(f"{key} must be {'positive' if key in POSITIVE_KEYS else 'non-negative'}")
    for key in TOKEN_KEYS:
        config[key] = _token_list(key, config[key])
    for key in BOOLEAN_KEYS:
        config[key] = _boolean(key, config[key])
    config["data_dir"] = config["data_dir"].resolve()
    secret = config["secret_key"]
    if secret and not (isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH and is_single_token(secret)):
        raise ConfigError(f"secret_key must be at least {MIN_SECRET_LENGTH} characters without spaces "
                          "(python3 -c 'import secrets; print(secrets.token_hex(32))' makes one)")
    config["database_url"] = database_url(config["database_url"], config["data_dir"])
    if config["log_format"] not in LOG_FORMATS:
        raise ConfigError(f"log_format must be one of: {', '.join(LOG_FORMATS)}")
    accel = config["accel_redirect"]
    if accel and not (isinstance(accel, str) and re.fullmatch(r"/[A-Za-z0-9_./-]*/", accel) and ".." not in accel):
        raise ConfigError("accel_redirect must be a path that starts and ends with / (such as /_fenfa_files/)")
    try:
        config["primary_domain"] = normalise_base_url(config["primary_domain"] or "")
    except ValueError as exc:
        raise ConfigError(f"primary_domain {exc}") from None
    return config


def normalise_base_url(value):
    """`value` without a trailing slash if it is an http(s) URL with a plain host (and optional port
    and path), "" for "", else ValueError: every generated link is built on it."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        port_ok = parts.port != 0  # .port raises ValueError for a port that is not a number below 65536
    except ValueError:
        port_ok = False
    if (not port_ok or parts.scheme not in ("http", "https") or not parts.hostname
            or not HOST_PATTERN.fullmatch(parts.hostname) or parts.query or parts.fragment or parts.username
            or not is_single_token(value)):
        raise ValueError("must be an http:// or https:// URL")
    return value


def database_url(value, data_dir):
    """The `database_url` setting checked: "" is the data dir's SQLite file. The value is never quoted back: it
    may hold a password."""
    if not value:
        return f"sqlite:///{data_dir / DATABASE_FILE}"
    if not isinstance(value, str) or not is_single_token(value):
        raise ConfigError(f"database_url must be {DATABASE_URL_FORMS}")
    if value.startswith("sqlite:///"):
        if not value.startswith("sqlite:////") or "?" in value:
            raise ConfigError(f"database_url must name an absolute path: {DATABASE_URL_FORMS}")
        return value
    try:
        parts = urlsplit(value)
        database = parts.path[1:]
        usable = (parts.scheme == "postgresql" and parts.port != 0 and database and "/" not in database
                  and not parts.fragment)
    except ValueError:  # .port raises it for a port that is not a number below 65536
        usable = False
    if not usable:
        raise ConfigError(f"database_url must be {DATABASE_URL_FORMS}")
    if importlib.util.find_spec("psycopg") is None:
        raise ConfigError("database_url names PostgreSQL, whose driver is not installed: "
                          "make postgres (or pip install -r requirements-postgres.txt)")
    return value


def _boolean(key, value):
    """A boolean from JSON (true/false) or from the environment (true/false, 1/0, yes/no)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_TEXTS:
        return BOOLEAN_TEXTS[value.strip().lower()]
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _token_list(key, value):
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(token, str) for token in value):
        raise ConfigError(f"{key} must be a string or a list of strings")
    return [token.strip() for token in value if token.strip()]


def prepare_data_dir(data_dir):
    """Create the data dir (0700) if needed; ConfigError when it cannot hold Fenfa's files."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = data_dir / f".probe-{secrets.token_hex(4)}"
        probe.touch(mode=0o600)
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data_dir {data_dir} is not usable: {exc.strerror or exc}") from None


def upload_limit_bytes(config):
    """The largest file an upload may carry, from `max_upload_mb`."""
    return config["max_upload_mb"] * MIB


def ensure_tokens(config):
    """Fill in tokens when no admin token is configured.

    The first start generates an admin and an upload token into <data_dir>/tokens.json (0600)
    and announces them once; later starts read that file.
    """
    if config["admin_token"]:
        return config
    tokens_file = config["data_dir"] / TOKENS_FILE
    if tokens_file.exists():
        try:
            stored = json.loads(tokens_file.read_text(encoding="utf-8"))
            config["admin_token"] = [stored["admin_token"]]
            config["upload_token"] = config["upload_token"] or [stored["upload_token"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{tokens_file}: unreadable ({exc}); delete it to generate new tokens") from exc
        return config
    admin, upload = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    config["data_dir"].mkdir(parents=True, exist_ok=True)
    descriptor = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"admin_token": admin, "upload_token": upload}, handle)
    config["admin_token"] = [admin]
    config["upload_token"] = config["upload_token"] or [upload]
    print(
        f"Generated tokens (stored in {tokens_file}, shown only once):\n"
        f"  admin token:  {admin}\n  upload token: {upload}"
    )
    return config
