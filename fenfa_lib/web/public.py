"""The pages testers browse (no token): the landing page, product pages and their QR codes."""
import io
from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from fenfa_lib import access, current
from fenfa_lib.catalog import published_product
from fenfa_lib.events import record_event, unless_busy
from fenfa_lib.web import access as access_check
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
    if request.method != "GET":
        return
    with unless_busy("visit event"):  # the budget's count and the event: one transaction
        if not anonymous_write_wait("visits"):
            record_event("visit", request_client(), product_id=product_id)


@bp.get("/products/<slug>")
def show_product(slug):
    product = access_check.page_product(slug)
    if product is None:
        abort(404, description="There is no app at this address.")
    grant = None
    if product.access != "public":
        grant = access_check.grant_for(product)
        if grant is None:
            return locked_page(product)
    product_id, html = product_page_html(slug, grant)
    count_visit(product_id)
    response = Response(html, mimetype="text/html")
    response.vary.update(["Accept-Language", "User-Agent", "X-Auth-Token", "Cookie"])
    response.headers["Cache-Control"] = "private, no-cache" if grant else "no-cache"
    return response


def product_page_html(slug, grant=None):
    """(product id, HTML) of the page at `slug` for this visitor; 404 when no published product is there. The
    HTML is rendered once per catalog revision and everything it depends on, except with a return token; a
    protected product's once per `grant` too (its install links carry tokens of that grant), for a while."""
    if request.args.get("udid_token"):
        return render_product_page(slug)[:2]
    admin = grant == access.ADMIN if grant else is_admin_request()  # asked once: an unknown token counts a failure
    key = (slug, *page_request(), in_app_browser(), language(), urls.base_url(), admin, grant)
    revision = current.revision()
    html_pages = current.cache("html_pages")
    cached = html_pages.get(key, revision)
    if cached is None:
        product_id, html, valid_until = render_product_page(slug)
        cached = product_id, html
        if grant:
            valid_until = access_check.install_links_valid_until(valid_until)
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
                           icon_url=icon_url, lang=lang, t=translator(lang),
                           release_links=access_check.link_builder(page.product), **PAGE_HELPERS)
    return page.product.id, html, page.valid_until


@bp.get("/products/<slug>/qrcode.svg")
def product_qrcode(slug):
    product = access_check.page_product(slug)
    if product is None:
        abort(404, description="There is no app at this address.")
    access_check.require_access(product)
    cache_control = "private, max-age=300" if product.access != "public" else "public, max-age=300"
    return Response(qr_svgs(urls.page_url(slug))[1], mimetype="image/svg+xml",
                     headers={"Cache-Control": cache_control})


def locked_page(product, status=401, failure=None, wait=0):
    """The page a visitor without access sees: the password form, or for a private product where to get in."""
    response = render_page("locked.html", product=product, failure=failure, wait=wait)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response


@bp.post("/products/<slug>/access")
def enter_password(slug):
    """The password form: a right password sets the access cookie and goes back to the page; wrong ones count
    against this address (ten a minute, then 429 for a minute)."""
    product = published_product(slug)
    if product is None:
        abort(404, description="There is no app at this address.")
    if product.access != "password":
        return redirect(url_for("public.show_product", slug=slug), 303)
    wait = access_check.password_wait()
    if wait:
        response = locked_page(product, 429, "too_many_passwords", wait)
        response.headers["Retry-After"] = str(wait)
        return response
    if not access.password_matches(request.form.get("password", ""), product.password_hash):
        access_check.count_wrong_password()
        return locked_page(product, 401, "wrong_password")
    response = redirect(url_for("public.show_product", slug=slug), 303)
    return access_check.grant_cookie(response, product, access.password_grant(product))


@bp.get("/s/<token>")
def share_link(token):
    """A share link: its access cookie and a redirect to the product page, or 410 saying why it ended."""
    link = access.token_link(current_app.secret_key, token)
    product = published_product_of(link)
    if product is None:
        abort(404, description="There is no link at this address.")
    state = access.link_state(link)
    if state != "live":
        response = render_page("link_gone.html", state=state)
        response.status_code = 410
        response.headers["Cache-Control"] = "no-store"
        return response
    response = redirect(url_for("public.show_product", slug=product.slug))
    return access_check.grant_cookie(response, product, access.Grant("link", link.id))


def published_product_of(link):
    product = link.product if link else None
    return product if product is not None and product.published else None
