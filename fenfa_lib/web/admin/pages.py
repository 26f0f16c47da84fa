"""GET /admin: signing a browser in and out with an admin token (an HttpOnly, SameSite=Strict session
cookie naming a session kept on the server; forms carry a CSRF token), and the language switch."""
import hmac

from flask import Blueprint, abort, redirect, request, session, url_for

from fenfa_lib.web.admin.rendering import LANGUAGE_COOKIE, render_admin
from fenfa_lib.web.auth import admin_session, end_admin_session, start_admin_session
from fenfa_lib.web.i18n import LANGUAGES

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def check_csrf():
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
        abort(400, "The form expired; reload the page and try again.")


def local_target(default):
    """The `next` path a sign-in returns to: only a path of this site's admin panel."""
    target = request.values.get("next", "")
    local = target.startswith("/admin/") and not target.startswith("//") and target.isprintable()
    return target if local else default


@bp.get("")
def home():
    if admin_session() is not None:
        return redirect(local_target(url_for("admin_panel.products")), 303)
    return render_admin("admin/sign_in.html", failed=False, next=local_target(""))


@bp.post("/sign-in")
def sign_in():
    check_csrf()
    if not start_admin_session(request.form.get("token", "").strip()):
        return render_admin("admin/sign_in.html", status=401, failed=True, next=local_target(""))
    return redirect(local_target(url_for("admin_panel.products")), 303)


@bp.post("/sign-out")
def sign_out():
    check_csrf()
    end_admin_session()
    return redirect(url_for("admin_pages.home"), 303)


@bp.get("/language/<code>")
def language(code):
    if code not in LANGUAGES:
        abort(404)
    response = redirect(local_target(url_for("admin_pages.home")), 303)
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_SECONDS, path="/admin", samesite="Lax",
                        secure=request.is_secure, httponly=True)
    return response
