"""The JSON envelope: one success helper, and the handlers that answer every error in it (or as an HTML page
for the pages people browse)."""
import errno
import logging

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from fenfa_lib.dialect import database_fault
from fenfa_lib.errors import ApiError
from fenfa_lib.storage import StorageError

ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    507: "INSUFFICIENT_STORAGE",
}
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
UNAVAILABLE_ERRNOS = {errno.EIO, errno.EROFS}
BUSY_RETRY_SECONDS = 5
PAGE_BLUEPRINTS = "fenfa.page_blueprints"
log = logging.getLogger("fenfa")


def upload_limit_message(limit_mb):
    return f"upload is larger than the {limit_mb} MB limit"


def error_code(status):
    return ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")


def ok(data, status=200):
    return jsonify({"ok": True, "data": data}), status


def error_response(status, message):
    return jsonify({"ok": False, "error": {"code": error_code(status), "message": message}}), status


def wants_json():
    """Errors of the API and file blueprints are JSON in the envelope; the page blueprints' are HTML."""
    return error_blueprint(request.blueprint, request.path) not in current_app.extensions[PAGE_BLUEPRINTS]


def error_blueprint(matched, path):
    """The blueprint whose error format applies: the matched route's; for a path no route matched, the one
    whose url_prefix is the longest the path starts with, else one with routes under the path's first segment
    (a page blueprint when both kinds have some)."""
    if matched:
        return matched
    prefixed = [bp for bp in current_app.blueprints.values() if bp.url_prefix and
                (path == bp.url_prefix or path.startswith(bp.url_prefix.rstrip("/") + "/"))]
    if prefixed:
        return max(prefixed, key=lambda bp: len(bp.url_prefix)).name
    first_segment = path.split("/")[1]
    owners = {rule.endpoint.split(".")[0] for rule in current_app.url_map.iter_rules()
              if "." in rule.endpoint and rule.rule.split("/")[1] == first_segment}
    pages = owners & current_app.extensions[PAGE_BLUEPRINTS]
    return min(pages or owners) if owners else None


def register_error_handlers(app, page_blueprints):
    """Every error in the envelope, or as an HTML page for the routes of `page_blueprints` (and for paths that
    belong to no blueprint)."""
    app.extensions[PAGE_BLUEPRINTS] = {blueprint.name for blueprint in page_blueprints} | {None}
    @app.errorhandler(ApiError)
    def handle_api_error(error):
        if not wants_json():
            return render_template("error.html", status=error.status, message=error.message), error.status
        return error_response(error.status, error.message)

    @app.errorhandler(HTTPException)
    def handle_http_error(error):
        if wants_json():
            response, status = error_response(error.code, _http_message(error))
        else:
            page = render_template("error.html", status=error.code, message=error.description)
            response, status = app.make_response((page, error.code)), error.code
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(StorageError)
    def handle_storage_error(error):
        log.error("storage failed on %s %s: %s", request.method, request.path, error)
        return error_response(503, "file storage is unavailable")

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        fault = machine_fault(error)
        if fault:
            status, message, retry_after = fault
            log.error("%s on %s %s: %s", message, request.method, request.path, error)
        else:
            log.exception("unhandled error on %s %s", request.method, request.path)
            status, message, retry_after = 500, "internal server error", None
        if wants_json():
            response, status = error_response(status, message)
        else:
            response = app.make_response((render_template("error.html", status=status, message=message), status))
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response, status


def machine_fault(error):
    """(status, message, Retry-After seconds or None) for a fault of the machine rather than of the code:
    a database another writer holds, a full disk, a storage device that fails. None for anything else."""
    fault = database_fault(error)
    if fault == "busy":
        return 503, "the database is busy; try again shortly", BUSY_RETRY_SECONDS
    if fault == "full":
        return 507, "the server's disk is full", None
    if fault == "unavailable":
        return 503, "the database is unavailable", BUSY_RETRY_SECONDS
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return 507, "the server's disk is full", None
    if isinstance(error, OSError) and error.errno in UNAVAILABLE_ERRNOS:
        return 503, "the server's storage is unavailable", BUSY_RETRY_SECONDS
    return None


def _http_message(error):
    custom = error.description != type(error).description
    if error.code == 404:
        return error.description if custom else f"no such endpoint: {request.method} {request.path}"
    if error.code == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if error.code == 413:
        return error.description if custom else "request body is too large"
    return error.description or error.name
