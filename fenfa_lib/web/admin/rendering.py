"""What every admin page shares: the signed-in check, the language (a cookie the switch sets, else
Accept-Language) and the template context (texts, CSRF token, navigation)."""
from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for

from fenfa_lib.web import urls
from fenfa_lib.web.admin.texts import TEXTS
from fenfa_lib.web.auth import admin_session, csrf_token
from fenfa_lib.web.i18n import LANGUAGES, translator

LANGUAGE_COOKIE = "fenfa_lang"
NAVIGATION = (  # (endpoint, text key)
    ("admin_panel.products", "nav_products"),
    ("admin_panel.smart_upload", "nav_smart_upload"),
    ("admin_records.events", "nav_events"),
    ("admin_records.devices", "nav_devices"),
    ("admin_records.exports", "nav_exports"),
    ("admin_records.settings", "nav_settings"),
    ("admin_records.audit", "nav_audit"),
)


def admin_language():
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else request.accept_languages.best_match(LANGUAGES, default="en")


def page_link(offset):
    """This page's path with its query string, at another `offset`."""
    return f"{request.path}?{urlencode({**request.args.to_dict(), 'offset': offset})}"


def render_admin(template, status=200, **context):
    lang = admin_language()
    signed_in = admin_session() is not None
    # The API's warnings are English sentences; the texts translate the ones they know.
    warnings = [TEXTS[lang].get(warning, warning) for warning in urls.admin_warnings(signed_in)]
    body = render_template(template, lang=lang, t=translator(lang, TEXTS), csrf=csrf_token(),
                           navigation=NAVIGATION, signed_in=signed_in, warnings=warnings, page_link=page_link,
                           **context)
    return body, status, {"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"}


def require_admin_session(blueprint):
    """Send browsers that are not signed in to the sign-in page, and back here afterwards."""

    @blueprint.before_request
    def signed_in_only():
        if admin_session() is None:
            return redirect(url_for("admin_pages.home", next=request.full_path.rstrip("?")), 303)
        return None
