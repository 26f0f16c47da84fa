"""The public side (no token): landing and product pages, their JSON, QR codes, iOS install
manifests, app icons and the page script's click events."""
import hashlib
import io
import math
import plistlib
import re
from contextlib import closing

import segno
from flask import Blueprint, Response, abort, render_template, request, send_file
from markupsafe import Markup

from fenfa_lib import urls, validate
from fenfa_lib.api import ApiError, ok
from fenfa_lib.auth import is_admin_request
from fenfa_lib.catalog import published_release
from fenfa_lib.events import anonymous_write_wait, record_event, refuse_over_budget
from fenfa_lib.files import storage_for
from fenfa_lib.i18n import LANGUAGES, translator
from fenfa_lib.images import image_type
from fenfa_lib.models import Product, Variant
from fenfa_lib.product_page import (
    PLATFORM_NAMES,
    build_page,
    detect_platform,
    find_published_product,
    human_size,
    is_installable,
    min_os_label,
    page_dict,
    release_links,
)
from fenfa_lib.udid_api import device_registration

bp = Blueprint("public", __name__)
MAX_EVENT_BYTES = 4096
MAX_ICON_BYTES = 4 * 1024 * 1024
ICON_MAX_AGE = 24 * 3600
EVENT_FIELDS = {"type", "release_id", "variant_id", "extra"}
MAX_EXTRA_KEYS = 8
EXTRA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_EXTRA_TEXT = 200
PAGE_HELPERS = {
    "human_size": human_size,
    "is_installable": is_installable,
    "min_os_label": min_os_label,
    "platform_names": PLATFORM_NAMES,
    "release_links": release_links,
    "device_registration": device_registration,
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


def admin_warnings():
    """Deployment warnings, only for admins (a token, or a browser signed in at /admin); testers never see them."""
    return urls.https_warnings() if is_admin_request() else []


@bp.get("/products/<slug>")
def product_page(slug):
    product = product_or_404(slug)
    page = build_page(product, detect_platform(request.user_agent.string), request.args.get("r"))
    if request.method == "GET" and not anonymous_write_wait():
        record_event("visit", product_id=product.id)
    qr_svg = Markup(qr_code(slug).svg_inline(scale=4, border=2, light="#fff", omitsize=True))
    response = render_page("product.html", page=page, qr_svg=qr_svg, warnings=admin_warnings(), **PAGE_HELPERS)
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
    page = build_page(product, detect_platform(request.user_agent.string), request.args.get("r"))
    return ok(page_dict(page))


@bp.get("/ios/<release_id>/manifest.plist")
def ios_manifest(release_id):
    release = published_release(release_id)
    if release.variant.platform != "ios":
        raise ApiError(404, f"release {release_id} is not an iOS build")
    body = plistlib.dumps(install_manifest(release))
    return Response(body, mimetype="application/xml", headers={"Cache-Control": "no-cache"})


def install_manifest(release):
    """The itms-services manifest iOS reads before it downloads the IPA."""
    assets = [{"kind": "software-package", "url": urls.download_url(release.id)}]
    if release.icon_key:
        icon = urls.icon_url(release.id)
        assets += [{"kind": "display-image", "url": icon}, {"kind": "full-size-image", "url": icon}]
    variant = release.variant
    return {"items": [{
        "assets": assets,
        "metadata": {
            "bundle-identifier": release.identifier or variant.identifier,
            "bundle-version": release.version,
            "kind": "software",
            "title": release.display_name or variant.product.name,
        },
    }]}


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
    unknown = sorted(set(body) - EVENT_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]}")
    event_type = validate.text(body, "type", required=True, max_length=16)
    if event_type not in ("click", "visit"):
        raise ApiError(400, "type must be click or visit")
    extra = event_extra(body)
    product_id, variant_id, release_id = event_target(body)
    event = record_event(event_type, product_id, variant_id, release_id, extra)
    return ok({"id": event.id}, 201)


def event_extra(body):
    """The optional `extra`: a flat object of a few short keys, each naming text, a number, a boolean or null."""
    extra = body.get("extra", {})
    if not isinstance(extra, dict):
        raise ApiError(400, "extra must be a JSON object")
    if len(extra) > MAX_EXTRA_KEYS:
        raise ApiError(400, f"extra must have at most {MAX_EXTRA_KEYS} keys")
    for key, value in extra.items():
        if not EXTRA_KEY.fullmatch(key):
            raise ApiError(400, "extra keys must be 1 to 32 characters of A-Z, a-z, 0-9, _, . and -")
        if isinstance(value, str):
            if len(value) > MAX_EXTRA_TEXT:
                raise ApiError(400, f"extra.{key} must be at most {MAX_EXTRA_TEXT} characters")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ApiError(400, f"extra.{key} must be a finite number")
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise ApiError(400, f"extra.{key} must be a string, number, boolean or null")
    return extra


def event_target(body):
    """(product_id, variant_id, release_id) of the published release or variant the event names."""
    release_id = validate.text(body, "release_id", max_length=64)
    variant_id = validate.text(body, "variant_id", max_length=64)
    if release_id:
        try:
            release = published_release(release_id)
        except ApiError:
            raise ApiError(400, f"release_id {release_id} does not exist") from None
        if variant_id and variant_id != release.variant_id:
            raise ApiError(400, "variant_id does not match the release")
        return release.variant.product_id, release.variant_id, release.id
    if variant_id:
        variant = (
            Variant.select(Variant, Product)
            .join(Product)
            .where((Variant.id == variant_id) & Variant.published & Product.published)
            .first()
        )
        if variant is None:
            raise ApiError(400, f"variant_id {variant_id} does not exist")
        return variant.product_id, variant.id, ""
    raise ApiError(400, "release_id or variant_id is required")
