"""The pages testers browse (no token): the landing page, product pages and their QR codes."""
import io
from functools import lru_cache

import segno
from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup

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
    min_os_label,
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


def product_or_404(slug):
    product = published_product(slug)
    if product is None:
        abort(404, description="There is no app at this address.")
    return product


@lru_cache(maxsize=512)
def qr_svgs(url):
    """(inline SVG for the page, SVG file) of the QR code of `url`: a pure function of the URL, and half of what
    a product page cost to build when it was drawn on every request."""
    code = segno.make(url, error="m")
    svg = io.BytesIO()
    code.save(svg, kind="svg", scale=8, border=4, light="#fff")
    return code.svg_inline(scale=4, border=2, light="#fff", omitsize=True), svg.getvalue()


def count_visit(product):
    """Record a visit to the product's page. HEAD requests, and clients over their anonymous write
    budget, are not counted (the page is still served to them)."""
    if request.method == "GET" and not anonymous_write_wait("visits"):
        record_if_idle("visit", request_client(), product_id=product.id)


@bp.get("/products/<slug>")
def show_product(slug):
    product = product_or_404(slug)
    page = visitor_page(product)
    token = request.args.get("udid_token")
    if token:
        add_registrations(page, current_app.secret_key, token)
    count_visit(product)
    qr_svg = Markup(qr_svgs(urls.page_url(slug))[0])
    warnings = urls.admin_warnings(is_admin_request())
    icon_url = urls.icon_url(page.icon_release.id) if page.icon_release else None
    response = render_page("product.html", page=page, qr_svg=qr_svg, warnings=warnings,
                           notices=visitor_notices(page), page_url=urls.page_url(slug), icon_url=icon_url,
                           **PAGE_HELPERS)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.update(["User-Agent", "X-Auth-Token", "Cookie"])
    return response


@bp.get("/products/<slug>/qrcode.svg")
def product_qrcode(slug):
    product_or_404(slug)
    return Response(qr_svgs(urls.page_url(slug))[1], mimetype="image/svg+xml",
                     headers={"Cache-Control": "public, max-age=300"})
