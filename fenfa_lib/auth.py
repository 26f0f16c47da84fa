"""The one X-Auth-Token check: 401 without a known token, 403 when its scope is too small."""
import hmac
from functools import wraps

from flask import current_app, request

from fenfa_lib.api import ApiError


def token_scope(token):
    """'admin', 'upload' or None; compares against every token so timing reveals nothing."""
    config = current_app.config["FENFA"]
    supplied = token.encode()
    is_admin = _matches_any(supplied, config["admin_token"])
    is_upload = _matches_any(supplied, config["upload_token"])
    return "admin" if is_admin else "upload" if is_upload else None


def _matches_any(supplied, tokens):
    found = False
    for token in tokens:
        found |= hmac.compare_digest(supplied, token.encode())
    return found


def require_token(scope):
    """Decorator for views that need an `upload` or `admin` token; admin tokens may do both."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = request.headers.get("X-Auth-Token", "")
            if not token:
                raise ApiError(401, "X-Auth-Token header is required")
            granted = token_scope(token)
            if granted is None:
                raise ApiError(401, "invalid token")
            if scope == "admin" and granted != "admin":
                raise ApiError(403, "this endpoint needs an admin token")
            return view(*args, **kwargs)

        return wrapper

    return decorator
