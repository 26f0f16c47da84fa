"""The public side (no token): landing and product pages, their JSON, QR codes, iOS install
manifests, app icons and the page script's click events."""
import hashlib
import io
import plistlib
from contextlib import closing

import segno
from flask import Blueprint, Response, abort, current_app, render_template, request, send_file
from markupsafe import Markup

from fenfa_lib import urls, validate
from fenfa_lib.api import ApiError, ok
from fenfa_lib.auth import is_admin_request
from fenfa_lib.catalog import published_release
from fenfa_lib.config import MIB
from fenfa_lib.events import count_visit, event_from_body, record_event, refuse_over_budget
from fenfa_lib.files import storage_for
from fenfa_lib.i18n import LANGUAGES, translator
from fenfa_lib.images import image_type
from fenfa_lib.product_page import (
    PLATFORM_NAMES,
    add_registrations,
    build_page,
    detect_platform,
    find_published_product,
    human_size,
    install_manifest,
    is_installable,
    min_os_label,
    page_dict,
    release_links,
)

bp = Blueprint("public", __name__)
MAX_EVENT_BYTES = 4096
MAX_ICON_BYTES = 4 * MIB
ICON_MAX_AGE = 24 * 3600
PAGE_HELPERS = {
    "human_size": human_size,
    "is_installable": is_installable,
    "min_os_label": min_os_label,
    "platform_names": PLATFORM_NAMES,
    "release_links": release_links,
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
    product = find_published_product(slug)
    if product is None:
        abort(404, description="There is no app at this address.")
    return product


def qr_code(slug):
    return segno.make(urls.page_url(slug), error="m")


def visitor_page(product):
    """The product page as this visitor sees it: their platform's cards first, and the release `?r=` names selected."""
    return build_page(product, detect_platform(request.user_agent.string), request.args.get("r"))


@bp.get("/products/<slug>")
def show_product(slug):
    product = product_or_404(slug)
    page = visitor_page(product)
    token = request.args.get("udid_token")
    if token:
        add_registrations(page, current_app.secret_key, token)
    count_visit(product)
    qr_svg = Markup(qr_code(slug).svg_inline(scale=4, border=2, light="#fff", omitsize=True))
    warnings = urls.admin_warnings(is_admin_request())
    response = render_page("product.html", page=page, qr_svg=qr_svg, warnings=warnings, **PAGE_HELPERS)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.update(["User-Agent", "X-Auth-Token", "Cookie"])
    return response


@bp.get("/products/<slug>/qrcode.svg")
def product_qrcode(slug):
    product_or_404(slug)
    svg = io.BytesIO()
    qr_code(slug).save(svg, kind="svg", scale=8, border=4, light="#fff")
    return Response(svg.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=300"})


@bp.get("/api/products/<slug>")
def product_json(slug):
    product = find_published_product(slug)
    if product is None:
        raise ApiError(404, f"product {slug} not found")
    return ok(page_dict(visitor_page(product)))


@bp.get("/ios/<release_id>/manifest.plist")
def ios_manifest(release_id):
    release = published_release(release_id)
    if release.variant.platform != "ios":
        raise ApiError(404, f"release {release_id} is not an iOS build")
    body = plistlib.dumps(install_manifest(release))
    return Response(body, mimetype="application/xml", headers={"Cache-Control": "no-cache"})


@bp.get("/icons/<release_id>.png")
def icon(release_id):
    release = published_release(release_id)
    if not release.icon_key:
        raise ApiError(404, f"release {release_id} has no icon")
    try:
        with closing(storage_for(release.storage).open(release.icon_key)) as stored:
            data = stored.read(MAX_ICON_BYTES)
    except FileNotFoundError:
        raise ApiError(404, f"the icon of release {release_id} is missing from storage") from None
    kind = image_type(data)
    if kind is None:
        raise ApiError(404, f"the icon of release {release_id} is not a PNG or WebP image")
    return send_file(
        io.BytesIO(data),
        mimetype=f"image/{kind}",
        etag=hashlib.sha256(data).hexdigest(),
        max_age=ICON_MAX_AGE,
        conditional=True,
    )


@bp.post("/events")
def post_event():
    refuse_over_budget("events")
    body = validate.json_object(MAX_EVENT_BYTES)
    event = record_event(*event_from_body(body))
    return ok({"id": event.id}, 201)
