"""The pages testers browse (no token): the landing page, product pages and their QR codes."""
import io
from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup

from fenfa_lib import current
from fenfa_lib.catalog import published_product
from fenfa_lib.events import record_if_idle
from fenfa_lib.web import urls
from fenfa_lib.web.auth import is_admin_request
from fenfa_lib.web.budget import anonymous_write_wait
from fenfa_lib.web.client import request_client
from fenfa_lib.web.i18n import LANGUAGES, translator
from fenfa_lib.web.markdown import changelog_html
from fenfa_lib.web.product_page import (
    PLATFORM_NAMES,
    add_registrations,
    human_size,
    in_app_browser,
    min_os_label,
    page_request,
    visitor_notices,
    visitor_page,
)

bp = Blueprint("public", __name__)
PAGE_HELPERS = {
    "human_size": human_size,
    "changelog_html": changelog_html,
    "min_os_label": min_os_label,
    "platform_names": PLATFORM_NAMES,
    "release_links": urls.release_links,
}


def language():
    return request.accept_languages.best_match(LANGUAGES, default="en")


def render_page(template, **context):
    lang = language()
    response = Response(render_template(template, lang=lang, t=translator(lang), **context))
    response.vary.add("Accept-Language")
    return response


@bp.get("/")
def landing():
    return render_page("landing.html")


@lru_cache(maxsize=512)
def qr_svgs(url):
    """(inline SVG for the page, SVG file) of the QR code of `url`: a pure function of the URL, and half of what
    a product page cost to build when it was drawn on every request."""
    import segno  # 1.6 MiB and 7 ms at start-up: only QR codes pay

    code = segno.make(url, error="m")
    svg = io.BytesIO()
    code.save(svg, kind="svg", scale=8, border=4, light="#fff")
    return code.svg_inline(scale=4, border=2, light="#fff", omitsize=True), svg.getvalue()


def count_visit(product_id):
    """Record a visit to the product's page. HEAD requests, and clients over their anonymous write
    budget, are not counted (the page is still served to them)."""
    if request.method == "GET" and not anonymous_write_wait("visits"):
        record_if_idle("visit", request_client(), product_id=product_id)


@bp.get("/products/<slug>")
def show_product(slug):
    product_id, html = product_page_html(slug)
    count_visit(product_id)
    response = Response(html, mimetype="text/html")
    response.vary.update(["Accept-Language", "User-Agent", "X-Auth-Token", "Cookie"])
    response.headers["Cache-Control"] = "no-cache"
    return response


def product_page_html(slug):
    """(product id, HTML) of the page at `slug` for this visitor; 404 when no published product is there. The
    HTML is rendered once per catalog revision and everything it depends on, except with a return token."""
    if request.args.get("udid_token"):
        return render_product_page(slug)[:2]
    key = (slug, *page_request(), in_app_browser(), language(), urls.base_url(), is_admin_request())
    revision = current.revision()
    html_pages = current.cache("html_pages")
    cached = html_pages.get(key, revision)
    if cached is None:
        product_id, html, valid_until = render_product_page(slug)
        cached = product_id, html
        html_pages.put(key, revision, cached, valid_until)
    return cached


def render_product_page(slug):
    """(product id, HTML, when its verdicts expire) of the page at `slug` for this visitor."""
    page = visitor_page(slug)
    if page is None:
        abort(404, description="There is no app at this address.")
    token = request.args.get("udid_token")
    if token:
        add_registrations(page, current_app.secret_key, token)
    lang = language()
    page_url = urls.page_url(slug)
    icon_url = urls.icon_url(page.icon_release.id) if page.icon_release else None
    html = render_template("product.html", page=page, qr_svg=Markup(qr_svgs(page_url)[0]), page_url=page_url,
                           warnings=urls.admin_warnings(is_admin_request()), notices=visitor_notices(page),
                           icon_url=icon_url, lang=lang, t=translator(lang), **PAGE_HELPERS)
    return page.product.id, html, page.valid_until


@bp.get("/products/<slug>/qrcode.svg")
def product_qrcode(slug):
    if published_product(slug) is None:
        abort(404, description="There is no app at this address.")
    return Response(qr_svgs(urls.page_url(slug))[1], mimetype="image/svg+xml",
                     headers={"Cache-Control": "public, max-age=300"})
