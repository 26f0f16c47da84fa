"""GET /healthz: database and storage checks, plus deployment warnings."""
import logging

from flask import Blueprint

from fenfa_lib import __version__
from fenfa_lib.errors import ApiError
from fenfa_lib.models import db
from fenfa_lib.release_files import storage_for
from fenfa_lib.storage import StorageError
from fenfa_lib.web.envelope import DISK_FULL_ERRNOS, ok
from fenfa_lib.web.urls import https_warnings

bp = Blueprint("health", __name__)
log = logging.getLogger("fenfa")


@bp.get("/healthz")
def healthz():
    try:
        db.execute_sql("SELECT 1")
    except Exception as exc:  # any driver error means the database is unusable
        log.error("health check: database unusable: %s", exc)
        raise ApiError(503, "database unavailable") from exc
    try:
        storage_for().check()
    except (StorageError, OSError) as exc:
        log.error("health check: storage unusable: %s", exc)
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        full = isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS
        raise ApiError(503, "storage unavailable: the disk is full" if full else "storage unavailable") from exc
    return ok({"status": "ok", "version": __version__, "db": "ok", "storage": "ok", "warnings": https_warnings()})
