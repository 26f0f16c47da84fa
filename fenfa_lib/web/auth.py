"""The one X-Auth-Token check (401 without a known token, 403 when its scope is too small), and the
admin browser session that lets pages recognise an admin."""
import hashlib
import hmac
from functools import wraps

from flask import current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from fenfa_lib.errors import ApiError
from fenfa_lib.web import urls


def token_scope(token):
    """'admin', 'upload' or None for the current app's tokens."""
    return scope_of(token, current_app.config["FENFA"])


def scope_of(token, config):
    """'admin', 'upload' or None for the tokens of `config`; compares against every token so timing reveals
    nothing."""
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


def require_admin(blueprint):
    """Make every route of `blueprint` need an admin token."""

    @blueprint.before_request
    @require_token("admin")
    def admin_only():
        """Nothing to do once require_token let the request through."""


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the site is reached over HTTPS, including
    through a trusted proxy or an admin-saved https:// primary domain."""

    def get_cookie_secure(self, app):
        return request.is_secure or urls.base_url().startswith("https://")


def token_fingerprint(token):
    """What a session keeps instead of the token: removing the token from the configuration ends it."""
    return hmac.new(current_app.secret_key, token.encode(), hashlib.sha256).hexdigest()


def start_admin_session(token):
    """Sign this browser in when `token` is an admin token; True on success."""
    if token_scope(token) != "admin":
        return False
    session.clear()
    session["admin"] = token_fingerprint(token)
    return True


def is_admin_request():
    """An admin token in X-Auth-Token, or a browser session started with a still-configured admin token."""
    token = request.headers.get("X-Auth-Token", "")
    if token:
        return token_scope(token) == "admin"
    fingerprint = session.get("admin")
    admin_tokens = current_app.config["FENFA"]["admin_token"]
    return bool(fingerprint) and any(
        hmac.compare_digest(fingerprint, token_fingerprint(admin)) for admin in admin_tokens
    )
