"""Recording analytics events with the client's address and browser, checking the events a page's
script posts, and the per-address budget of rows that requests without a token may add (visits,
clicks, UDID nonces)."""
import math
import re

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

from fenfa_lib import validate
from fenfa_lib.api import ApiError
from fenfa_lib.catalog import published_release
from fenfa_lib.models import Event, Product, Variant
from fenfa_lib.ratelimit import RateLimiter

EVENT_TYPES = ("visit", "click", "download", "upload")
ANONYMOUS_WRITES_PER_MINUTE = 60
WRITE_LIMITER = "fenfa.anonymous_write_limiter"
EVENT_FIELDS = {"type", "release_id", "variant_id", "extra"}
MAX_EXTRA_KEYS = 8
EXTRA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_EXTRA_TEXT = 200


def init_write_limiter(app):
    """One budget per app, so that apps in one process (tests, for one) never share counts."""
    app.extensions[WRITE_LIMITER] = RateLimiter(ANONYMOUS_WRITES_PER_MINUTE, window=60)


def anonymous_write_wait():
    """Count one anonymous write for this client: 0 when allowed, else the seconds until it may write again."""
    return current_app.extensions[WRITE_LIMITER].hit(request.remote_addr or "")


def refuse_over_budget(what):
    """429 with Retry-After when this client used up its anonymous writes for the minute."""
    wait = anonymous_write_wait()
    if wait:
        seconds = math.ceil(wait)
        raise TooManyRequests(f"too many {what} from this address; try again in {seconds} s", retry_after=seconds)


def record_event(event_type, product_id="", variant_id="", release_id="", extra=None):
    """Append one event; the client address honours FENFA_TRUSTED_PROXIES through ProxyFix."""
    return Event.create(
        type=event_type,
        product_id=product_id or "",
        variant_id=variant_id or "",
        release_id=release_id or "",
        ip=request.remote_addr or "",
        user_agent=(request.user_agent.string or "")[:512],
        extra=extra or {},
    )


def count_visit(product):
    """Record a visit to the product's page. HEAD requests, and clients over their anonymous write
    budget, are not counted (the page is still served to them)."""
    if request.method == "GET" and not anonymous_write_wait():
        record_event("visit", product_id=product.id)


def event_from_body(body):
    """(type, product_id, variant_id, release_id, extra) of the click or visit a page's script posted;
    400 naming the first bad field."""
    unknown = sorted(set(body) - EVENT_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]}")
    event_type = validate.text(body, "type", required=True, max_length=16)
    if event_type not in ("click", "visit"):
        raise ApiError(400, "type must be click or visit")
    extra = _event_extra(body)
    product_id, variant_id, release_id = _event_target(body)
    return event_type, product_id, variant_id, release_id, extra


def _event_extra(body):
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


def _event_target(body):
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
