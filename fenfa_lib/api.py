"""The JSON envelope: one error type, one success helper, and the handlers that use them."""
import logging
import re

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

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
    503: "SERVICE_UNAVAILABLE",
}
JSON_PATHS = re.compile(r"^/(admin/api|admin/exports|api|upload|events|healthz|udid|d|ios|icons)(/|$)")
log = logging.getLogger("fenfa")


class ApiError(Exception):
    """An error answered as `{"ok": false, "error": {"code", "message"}}` with its HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def upload_limit_message(limit_mb):
    return f"upload is larger than the {limit_mb} MB limit"


def error_code(status):
    return ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")


def ok(data, status=200):
    return jsonify({"ok": True, "data": data}), status


def error_response(status, message):
    return jsonify({"ok": False, "error": {"code": error_code(status), "message": message}}), status


def wants_json():
    """Errors on the API and file routes are JSON in the envelope; pages people browse get HTML."""
    return bool(JSON_PATHS.match(request.path))


def register_error_handlers(app):
    @app.errorhandler(ApiError)
    def handle_api_error(error):
        return error_response(error.status, error.message)

    @app.errorhandler(HTTPException)
    def handle_http_error(error):
        if not wants_json():
            return render_template("error.html", status=error.code, message=error.description), error.code
        response, status = error_response(error.code, _http_message(error))
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
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return error_response(500, "internal server error")
        return render_template("error.html", status=500, message="Internal server error"), 500


def _http_message(error):
    if error.code == 404:
        return f"no such endpoint: {request.method} {request.path}"
    if error.code == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if error.code == 413:
        custom = error.description != type(error).description
        return error.description if custom else "request body is too large"
    return error.description or error.name
