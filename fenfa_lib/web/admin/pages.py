"""GET /admin: signing a browser in and out with an admin token (an HttpOnly, SameSite=Strict
session cookie; forms carry a CSRF token)."""
import hmac
import secrets

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from fenfa_lib.web import urls
from fenfa_lib.web.auth import is_admin_request, start_admin_session

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf():
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
        abort(400, "The form expired; reload the page and try again.")


@bp.get("")
def home():
    signed_in = is_admin_request()
    return render_template("admin.html", signed_in=signed_in, warnings=urls.admin_warnings(signed_in),
                           csrf=csrf_token(), failed=False)


@bp.post("/sign-in")
def sign_in():
    check_csrf()
    if not start_admin_session(request.form.get("token", "").strip()):
        return render_template("admin.html", signed_in=False, warnings=[], csrf=csrf_token(), failed=True), 401
    return redirect(url_for("admin_pages.home"), 303)


@bp.post("/sign-out")
def sign_out():
    check_csrf()
    session.clear()
    return redirect(url_for("admin_pages.home"), 303)
