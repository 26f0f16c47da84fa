"""The one auth check: an X-Auth-Token, configured or named (401 without a known token, 403 when its scope is
too small), or an admin browser session with its CSRF token in X-CSRF-Token. Sessions live on the server, so
signing out ends them; an address that keeps presenting unknown tokens is locked out for a while (429)."""
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import TooManyRequests

from fenfa_lib import tokens
from fenfa_lib.address_limits import Lockout
from fenfa_lib.errors import ApiError
from fenfa_lib.ids import PREFIXES
from fenfa_lib.models import AdminSession, ApiToken, utcnow
from fenfa_lib.web import urls

LOCKOUT = "fenfa.lockout"
CSRF_HEADER = "X-CSRF-Token"
SESSION_IDLE = timedelta(hours=12)  # a signed-in browser left alone this long signs in again
SESSION_LIFETIME = timedelta(days=7)  # and every browser after a week
SEEN_EVERY = timedelta(minutes=1)  # how often a session's last_seen_at is written


@dataclass(frozen=True)
class Grant:
    """What a token or session lets a request do: `scope` 'admin' or 'upload', the one product a named upload
    token is limited to (None: every product), who the audit log says acted, and a named token's ID."""

    scope: str
    actor: str
    product_id: str | None = None
    token_id: str | None = None


CONFIGURED_ADMIN = Grant("admin", "configured admin token")
CONFIGURED_UPLOAD = Grant("upload", "configured upload token")


def init_lockout(app):
    app.extensions[LOCKOUT] = Lockout("sign-in")


def lockout():
    return current_app.extensions[LOCKOUT]


def token_grant(token):
    """The Grant of a token presented to the current app, or None; a named token's use is noted."""
    return grant_of(token, current_app.config["FENFA"], note_use=True)


def scope_of(token, config):
    """'admin', 'upload' or None for a configured token of `config` or a named token; reads only, so the
    waitress admission may ask before a request exists."""
    grant = grant_of(token, config)
    return grant.scope if grant else None


def grant_of(token, config, note_use=False):
    """The Grant of a configured token of `config` or of a named token, or None. A configured token is compared
    against every one so timing reveals nothing; a named one is found by its hash."""
    supplied = token.encode()
    is_admin = _matches_any(supplied, config["admin_token"])
    is_upload = _matches_any(supplied, config["upload_token"])
    if is_admin or is_upload:
        return CONFIGURED_ADMIN if is_admin else CONFIGURED_UPLOAD
    named = tokens.lookup(token) if note_use else tokens.find_token(token)
    return named_grant(named) if named else None


def named_grant(token):
    return Grant(token.scope, f"token {token.id} ({token.name})", token.product_id, token.id)


def _matches_any(supplied, configured):
    found = False
    for token in configured:
        found |= hmac.compare_digest(supplied, token.encode())
    return found


def refuse_locked_out():
    """429 with Retry-After while this address is locked out of sign-in and token checks."""
    wait = lockout().wait(request.remote_addr or "")
    if wait:
        seconds = math.ceil(wait)
        raise TooManyRequests(f"too many failed sign-ins from this address; try again in {seconds} s",
                              retry_after=seconds)


def checked_grant(token):
    """The Grant of a presented token; an unknown (or revoked) one counts against this address (and is a 401)."""
    refuse_locked_out()
    granted = token_grant(token)
    if granted is None:
        lockout().fail(request.remote_addr or "")
        raise ApiError(401, "invalid token")
    return granted


def request_grant():
    """The Grant of this request's token, or of a signed-in browser that sent its CSRF token; 401 otherwise."""
    token = request.headers.get("X-Auth-Token", "")
    if token:
        return checked_grant(token)
    signed_in = admin_session()
    if signed_in is not None:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
            raise ApiError(403, f"a signed-in browser must send its {CSRF_HEADER} header")
        return signed_in
    raise ApiError(401, "X-Auth-Token header is required")


def require_token(scope):
    """Decorator for views that need an `upload` or `admin` token; admin tokens (and admin sessions) may do
    both."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.grant = request_grant()
            if scope == "admin" and g.grant.scope != "admin":
                raise ApiError(403, "this endpoint needs an admin token")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def granted_scope():
    """The scope require_token found this request to have: 'admin' or 'upload'."""
    return g.grant.scope


def granted_product_id():
    """The one product require_token found this request limited to (a named upload token's), or None."""
    return g.grant.product_id


def request_actor():
    """Who acted in this request, for the audit log: the token or session the auth check (or a sign-in or
    sign-out) found, else "anonymous"."""
    grant = g.get("grant")
    return grant.actor if grant else "anonymous"


def require_admin(blueprint):
    """Make every route of `blueprint` need an admin token or an admin session."""

    @blueprint.before_request
    @require_token("admin")
    def admin_only():
        """Nothing to do once require_token let the request through."""


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the site is reached over HTTPS, including
    through a trusted proxy or an admin-saved https:// primary domain."""

    def open_session(self, app, request):
        """Flask's, without building the signing serializer for a request that brings no session cookie."""
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app):
        return request.is_secure or urls.base_url().startswith("https://")

    def save_session(self, app, session, response):
        """Flask's, but without working out the Secure flag (which reads the saved settings) when no cookie is
        set or removed: the answer about a database out of reach must not need the database."""
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def token_fingerprint(token):
    """What a session keeps instead of the token: removing the token from the configuration ends it."""
    return hmac.new(current_app.secret_key, token.encode(), hashlib.sha256).hexdigest()


def start_admin_session(token):
    """Sign this browser in when `token` is an admin token; True on success, False (counted against the
    address) otherwise."""
    refuse_locked_out()
    grant = token_grant(token)
    if grant is None or grant.scope != "admin":
        lockout().fail(request.remote_addr or "")
        return False
    end_admin_session()
    AdminSession.delete().where(AdminSession.last_seen_at < utcnow() - SESSION_IDLE).execute()
    # A named token's session keeps the token's ID: revoking the token ends the session.
    row = AdminSession.create(id=secrets.token_urlsafe(32), token_fingerprint=grant.token_id or
                              token_fingerprint(token))
    session["sid"] = row.id
    session["csrf"] = secrets.token_urlsafe(24)
    g.grant = grant
    return True


def end_admin_session():
    """Sign out on the server too: the session row goes, and with it every copy of the cookie."""
    g.grant = admin_session()
    sid = session.get("sid")
    if sid:
        AdminSession.delete().where(AdminSession.id == sid).execute()
    session.clear()


def admin_session():
    """The Grant of this browser's signed-in admin session, or None (signed out, expired, its token removed
    from the configuration or revoked, or none at all)."""
    sid = session.get("sid")
    if not sid:
        return None
    row = AdminSession.get_or_none(AdminSession.id == sid)
    grant = session_grant(row) if row else None
    if grant is None:
        return None
    now = utcnow()
    if row.created_at < now - SESSION_LIFETIME or row.last_seen_at < now - SESSION_IDLE:
        row.delete_instance()
        return None
    if row.last_seen_at < now - SEEN_EVERY:
        row.last_seen_at = now
        row.save(only=[AdminSession.last_seen_at])
    return grant


def session_grant(row):
    """The Grant of an admin session while the token it was started with is still an admin token, else None."""
    fingerprint = row.token_fingerprint
    if fingerprint.startswith(PREFIXES["token"]):
        named = ApiToken.get_or_none((ApiToken.id == fingerprint) & (ApiToken.scope == "admin"))
        return Grant("admin", f"admin session of token {named.id} ({named.name})") if named else None
    admin_tokens = current_app.config["FENFA"]["admin_token"]
    configured = any(hmac.compare_digest(fingerprint, token_fingerprint(admin)) for admin in admin_tokens)
    return Grant("admin", "admin session") if configured else None


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
    granted = token_grant(token)
    if granted is None:
        lockout().fail(address)
    return granted is not None and granted.scope == "admin"


def csrf_token():
    """This browser's CSRF token, which its forms and API calls send back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]
