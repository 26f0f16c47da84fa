"""The public JSON side (no token): a product's page data, iOS install manifests, app icons and the page
script's click and visit events."""
import hashlib
import io
import math
import plistlib
import re
from contextlib import closing

from flask import Blueprint, Response, send_file

from fenfa_lib.catalog import download_counts, published_release, published_variant
from fenfa_lib.config import MIB
from fenfa_lib.errors import ApiError
from fenfa_lib.events import record_event
from fenfa_lib.packages.images import image_type
from fenfa_lib.release_files import storage_for
from fenfa_lib.web import validate
from fenfa_lib.web.access import install_token, link_builder, require_access
from fenfa_lib.web.budget import refuse_over_budget
from fenfa_lib.web.client import request_client
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.product_page import install_manifest, page_json, visitor_page

bp = Blueprint("public_api", __name__)
MAX_EVENT_BYTES = 4096
EVENT_FIELDS = ("type", "release_id", "variant_id", "extra")
MAX_EXTRA_KEYS = 8
EXTRA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_EXTRA_TEXT = 200
MAX_ICON_BYTES = 4 * MIB
ICON_MAX_AGE = 24 * 3600


@bp.get("/api/products/<slug>")
def product_json(slug):
    page = visitor_page(slug)
    if page is None:
        raise ApiError(404, f"product {slug} not found")
    require_access(page.product)
    release_ids = [release.id for card in page.cards for release in card.releases]
    return page_json(page, download_counts(release_ids), link_builder(page.product))


@bp.get("/ios/<release_id>/manifest.plist")
def ios_manifest(release_id):
    release = published_release(release_id)
    if release.variant.platform != "ios":
        raise ApiError(404, f"release {release_id} is not an iOS build")
    product = release.variant.product
    require_access(product, release.id)
    body = plistlib.dumps(install_manifest(release, install_token(product, release.id)))
    return Response(body, mimetype="application/xml", headers={"Cache-Control": "no-cache"})


@bp.get("/icons/<release_id>.png")
def icon(release_id):
    release = published_release(release_id)
    require_access(release.variant.product, release.id)
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
    refuse_over_budget("events", "events")
    event_type, target, extra = event_from_body(validate.json_object(MAX_EVENT_BYTES))
    event = record_event(event_type, request_client(), *target, extra=extra)
    return ok({"id": event.id}, 201)


def event_from_body(body):
    """(type, (product_id, variant_id, release_id), extra) of the click or visit a page's script posted;
    400 naming the first bad field."""
    validate.known_fields(body, EVENT_FIELDS)
    event_type = validate.text(body, "type", required=True, max_length=16)
    if event_type not in ("click", "visit"):
        raise ApiError(400, "type must be click or visit")
    extra = event_extra(body)
    return event_type, event_target(body), extra


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
        variant = published_variant(variant_id)
        if variant is None:
            raise ApiError(400, f"variant_id {variant_id} does not exist")
        return variant.product_id, variant.id, ""
    raise ApiError(400, "release_id or variant_id is required")
