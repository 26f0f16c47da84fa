"""UDID binding: the Profile Service profile, the device's callback, and the status a browser asks for.
Return tokens are signed with the app's secret key."""
import logging

from flask import Blueprint, Response, current_app, redirect, request

from fenfa_lib import current, udid
from fenfa_lib.catalog import published_variant
from fenfa_lib.errors import ApiError
from fenfa_lib.models import Product, UDIDNonce, Variant
from fenfa_lib.web import urls, validate
from fenfa_lib.web.access import require_access
from fenfa_lib.web.budget import refuse_over_budget
from fenfa_lib.web.envelope import ok

bp = Blueprint("udid_api", __name__, url_prefix="/udid")
MAX_CALLBACK_BYTES = 64 * 1024
NONCE_COOKIE = "udid_nonce"
PROFILE_MIMETYPE = "application/x-apple-aspen-config"
log = logging.getLogger("fenfa")


def published_ios_variant():
    """The published iOS variant of a published product named by `?variant=`; 400 without one, else 404."""
    variant_id = request.args.get("variant", "").strip()
    if not variant_id:
        raise ApiError(400, "variant is required")
    variant = published_variant(variant_id, platform="ios")
    if variant is None:
        raise ApiError(404, f"iOS variant {variant_id} not found")
    return variant


def signing_chain():
    """The configured signer, or None when neither udid_signing_cert nor udid_signing_key is set."""
    config = current_app.config["FENFA"]
    if not (config["udid_signing_cert"] or config["udid_signing_key"]):
        return None
    try:
        return udid.load_signing_chain(config["udid_signing_cert"], config["udid_signing_key"])
    except udid.SigningConfigError as exc:
        log.error("cannot sign the UDID profile: %s", exc)
        raise ApiError(500, "the UDID profile signing certificate is misconfigured (see the server log)") from None


@bp.get("/profile.mobileconfig")
def profile():
    variant = published_ios_variant()
    require_access(variant.product)
    refuse_over_budget("profiles", "profile requests")
    chain = signing_chain()
    nonce = udid.create_nonce(variant)
    body = udid.profile_service_profile(
        urls.udid_callback_url(nonce), nonce, variant.product.name, current.settings().organization
    )
    response = Response(udid.sign_profile(body, chain) if chain else body, mimetype=PROFILE_MIMETYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="register.mobileconfig"'
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(NONCE_COOKIE, nonce, max_age=udid.NONCE_SECONDS, path="/udid", secure=request.is_secure,
                        httponly=True, samesite="Lax")
    return response


@bp.post("/callback")
def callback():
    body = validate.limited_body(MAX_CALLBACK_BYTES)
    nonce = request.args.get("nonce", "")
    try:
        udid.check_nonce_live(nonce)
        device, variant_id = udid.register_device(nonce, udid.parse_device_callback(body))
    except (udid.RegistrationError, udid.DeviceCallbackError) as exc:
        raise ApiError(400, str(exc)) from None
    product = Product.select().join(Variant).where(Variant.id == variant_id).get()
    token = udid.issue_token(current_app.secret_key, variant_id, device)
    # iOS opens the Location of a 301 answer in Safari, which brings the tester back to the product page.
    return redirect(urls.udid_return_url(product.slug, token), 301)


@bp.get("/status")
def status():
    variant = published_ios_variant()
    token = request.args.get("udid_token")
    device = udid.token_device(current_app.secret_key, token, variant.id) if token else cookie_device(variant)
    response, code = ok(udid.registration_status(variant.id, device))
    response.headers["Cache-Control"] = "no-store"
    return response, code


def cookie_device(variant):
    """The device registered with the nonce in this browser's cookie, when it was issued for `variant`."""
    row = UDIDNonce.get_or_none(UDIDNonce.nonce == request.cookies.get(NONCE_COOKIE, ""))
    if row is None or row.variant_id != variant.id:
        return None
    return row.device
