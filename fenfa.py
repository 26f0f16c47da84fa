"""Fenfa: a self-hosted app distribution server. `python fenfa.py` serves it with waitress."""
import argparse
import errno
import os
import sqlite3
import sys
import tarfile
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from fenfa_lib import __version__
from fenfa_lib.backup import backup, check_backed_up_database, restore
from fenfa_lib.config import (
    FORM_ALLOWANCE,
    ConfigError,
    ensure_tokens,
    load_config,
    prepare_data_dir,
    upload_limit_bytes,
)
from fenfa_lib.current import init_caches
from fenfa_lib.data_dir_lock import claim
from fenfa_lib.logs import configure_logging
from fenfa_lib.models import db
from fenfa_lib.release_files import LEFTOVER_MIN_AGE, sweep_leftovers
from fenfa_lib.schema import open_database
from fenfa_lib.server_secret import server_secret
from fenfa_lib.web import downloads, health, latest, openapi, public, public_api, udid, upload, uploader
from fenfa_lib.web.access import init_access
from fenfa_lib.web.admin import (
    apple,
    audit,
    catalog,
    diff,
    exports,
    links,
    lists,
    pages,
    panel,
    records,
    settings,
    tokens,
    webhooks,
)
from fenfa_lib.web.auth import SessionInterface, init_lockout
from fenfa_lib.web.budget import init_budgets
from fenfa_lib.web.envelope import register_error_handlers
from fenfa_lib.web.server import build_server, serve
from fenfa_lib.web.spool import SpoolingRequest

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_BLUEPRINTS = (  # what people browse: their errors are HTML pages
    public.bp, latest.links_bp, pages.bp, panel.bp, records.bp, diff.page_bp,
)
DATA_DIR_LOCK = "fenfa.data_dir_lock"
API_BLUEPRINTS = (  # their errors are answered in the JSON envelope
    health.bp, public_api.bp, latest.update_check_bp, downloads.bp, upload.bp, udid.bp, catalog.bp, settings.bp,
    lists.bp, exports.bp, apple.bp, webhooks.bp, openapi.bp, uploader.bp, diff.api_bp, links.bp, tokens.bp,
    audit.bp,
)


def create_app(config=None):
    """Build the app from defaults, config.json, FENFA_* environment and then `config`."""
    settings = load_config(config)
    prepare_data_dir(settings["data_dir"])
    ensure_tokens(settings)
    app = Flask(__name__)
    app.request_class = SpoolingRequest
    app.config["FENFA"] = settings
    app.config["MAX_CONTENT_LENGTH"] = upload_limit_bytes(settings) + FORM_ALLOWANCE
    app.json.sort_keys = False
    open_database(settings["database_url"])
    app.secret_key = server_secret(settings["secret_key"], settings["data_dir"])
    app.session_interface = SessionInterface()
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    lock, alone = claim(settings["data_dir"])
    app.extensions[DATA_DIR_LOCK] = lock
    sweep_leftovers(settings["data_dir"], min_age=0 if alone else LEFTOVER_MIN_AGE)
    if settings["trusted_proxies"]:
        hops = settings["trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    init_budgets(app)
    init_caches(app)
    init_lockout(app)
    init_access(app)
    for blueprint in PAGE_BLUEPRINTS + API_BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_error_handlers(app, PAGE_BLUEPRINTS)
    app.before_request(open_database_connection)
    app.teardown_request(close_database_connection)
    app.after_request(security_headers)
    return app


def open_database_connection():
    db.connect(reuse_if_open=True)


def close_database_connection(_error=None):
    if not db.is_closed():
        db.close()


def security_headers(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Frame-Options"] = "DENY"
    return response


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fenfa", description="Serve Fenfa with waitress, or back it up.")
    parser.add_argument("--version", action="version", version=f"fenfa {__version__}")
    parser.add_argument("--host", help="address to listen on (default from config: 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (default from config: 8000)")
    commands = parser.add_subparsers(dest="command", metavar="{backup,restore}")
    commands.add_parser("backup", help="write the data dir to FILE.tar, also while the server runs").add_argument(
        "file")
    commands.add_parser("restore", help="fill an empty data dir from FILE.tar").add_argument("file")
    args = parser.parse_args(argv)
    os.umask(0o077)  # the data dir holds tokens and storage secrets: files 0600, folders 0700
    try:
        run(args)
    except (ConfigError, OSError, sqlite3.Error, tarfile.TarError) as exc:
        print(f"fenfa: {describe_failure(exc, args)}", file=sys.stderr)
        sys.exit(2)


def run(args):
    if args.command in ("backup", "restore"):
        config = load_config()
        check_backed_up_database(config)
    if args.command == "backup":
        target = Path(args.file)
        print(backup(config["data_dir"], target).describe(target))
    elif args.command == "restore":
        data_dir = config["data_dir"]
        files = restore(data_dir, Path(args.file))
        print(f"restored {args.file} into {data_dir}: the database, {files} release files and the key files")
    else:
        overrides = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
        app = create_app(overrides)
        configure_logging(app.config["FENFA"]["log_format"])
        serve(build_server(app))


def describe_failure(exc, args):
    """One line for a start-up or command failure; the port is named when it cannot be listened on."""
    if isinstance(exc, OSError) and args.command is None and exc.errno in (errno.EADDRINUSE, errno.EACCES,
                                                                           errno.EADDRNOTAVAIL):
        return f"cannot listen on the configured host and port: {exc.strerror}"
    return str(exc) if not isinstance(exc, OSError) or not exc.strerror else f"{exc.strerror}: {exc.filename or ''}"


if __name__ == "__main__":
    main()
