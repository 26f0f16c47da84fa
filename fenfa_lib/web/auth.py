"""The one auth check: an X-Auth-Token (401 without a known token, 403 when its scope is too small), or an
admin browser session with its CSRF token in X-CSRF-Token. Sessions live on the server, so signing out
ends them; an address that keeps presenting unknown tokens is locked out for a while (429)."""
import hashlib
import hmac
import math
import secrets
from datetime import timedelta
from functools import wraps

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import TooManyRequests

from fenfa_lib.errors import ApiError
from fenfa_lib.models import AdminSession, utcnow
from fenfa_lib.web import urls
from fenfa_lib.web.lockout import Lockout

LOCKOUT = "fenfa.lockout"
CSRF_HEADER = "X-CSRF-Token"
SESSION_IDLE = timedelta(hours=12)  # a signed-in browser left alone this long signs in again
SESSION_LIFETIME = timedelta(days=7)  # and every browser after a week
SEEN_EVERY = timedelta(minutes=1)  # how often a session's last_seen_at is written


def init_lockout(app):
    app.extensions[LOCKOUT] = Lockout()


def lockout():
    return current_app.extensions[LOCKOUT]


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


def refuse_locked_out():
    """429 with Retry-After while this address is locked out of sign-in and token checks."""
    wait = lockout().wait(request.remote_addr or "")
    if wait:
        seconds = math.ceil(wait)
        raise TooManyRequests(f"too many failed sign-ins from this address; try again in {seconds} s",
                              retry_after=seconds)


def checked_scope(token):
    """The scope of a presented token; an unknown one counts against this address (and is a 401)."""
    refuse_locked_out()
    granted = token_scope(token)
    if granted is None:
        lockout().fail(request.remote_addr or "")
        raise ApiError(401, "invalid token")
    return granted


def request_scope():
    """'admin' or 'upload' for this request's token, or 'admin' for a signed-in browser that sent its CSRF
    token; 401 otherwise."""
    token = request.headers.get("X-Auth-Token", "")
    if token:
        return checked_scope(token)
    if admin_session() is not None:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
            raise ApiError(403, f"a signed-in browser must send its {CSRF_HEADER} header")
        return "admin"
    raise ApiError(401, "X-Auth-Token header is required")


def require_token(scope):
    """Decorator for views that need an `upload` or `admin` token; admin tokens (and admin sessions) may do
    both."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.token_scope = request_scope()
            if scope == "admin" and g.token_scope != "admin":
                raise ApiError(403, "this endpoint needs an admin token")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def granted_scope():
    """The scope require_token found this request to have: 'admin' or 'upload'."""
    return g.token_scope


def require_admin(blueprint):
    """Make every route of `blueprint` need an admin token or an admin session."""

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
    """Sign this browser in when `token` is an admin token; True on success, False (counted against the
    address) otherwise."""
    refuse_locked_out()
    if token_scope(token) != "admin":
        lockout().fail(request.remote_addr or "")
        return False
    end_admin_session()
    AdminSession.delete().where(AdminSession.last_seen_at < utcnow() - SESSION_IDLE).execute()
    row = AdminSession.create(id=secrets.token_urlsafe(32), token_fingerprint=token_fingerprint(token))
    session["sid"] = row.id
    session["csrf"] = secrets.token_urlsafe(24)
    return True


def end_admin_session():
    """Sign out on the server too: the session row goes, and with it every copy of the cookie."""
    sid = session.get("sid")
    if sid:
        AdminSession.delete().where(AdminSession.id == sid).execute()
    session.clear()


def admin_session():
    """The signed-in admin session of this browser, or None (signed out, expired token, or none at all)."""
    sid = session.get("sid")
    if not sid:
        return None
    row = AdminSession.get_or_none(AdminSession.id == sid)
    admin_tokens = current_app.config["FENFA"]["admin_token"]
    if row is None or not any(hmac.compare_digest(row.token_fingerprint, token_fingerprint(admin))
                              for admin in admin_tokens):
        return None
    now = utcnow()
    if row.created_at < now - SESSION_LIFETIME or row.last_seen_at < now - SESSION_IDLE:
        row.delete_instance()
        return None
    if row.last_seen_at < now - SEEN_EVERY:
        row.last_seen_at = now
        row.save(only=[AdminSession.last_seen_at])
    return row


def is_admin_request():
    """An admin token in X-Auth-Token, or a browser signed in with a still-configured admin token. A page
    that shows admins more must not become a way round the lockout: an unknown token counts against the
    address here too, and a locked-out address is no admin."""
    token = request.headers.get("X-Auth-Token", "")
    if not token:
        return admin_session() is not None
    address = request.remote_addr or ""
    if lockout().wait(address):
        return False
    granted = token_scope(token)
    if granted is None:
        lockout().fail(address)
    return granted == "admin"


def csrf_token():
    """This browser's CSRF token, which its forms and API calls send back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]
