"""The Apple Developer API: its status, the account's devices, and registering bound devices with it."""
from flask import Blueprint, current_app

from fenfa_lib import current
from fenfa_lib.apple import AppleError, missing_settings
from fenfa_lib.devices import apple_client, not_configured, register_many, register_with_apple, registration_result
from fenfa_lib.errors import ApiError
from fenfa_lib.models import IOSDevice
from fenfa_lib.web import validate
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("apple", __name__, url_prefix="/admin/api")
require_admin(bp)
MAX_BATCH = 1000


def client():
    return apple_client(current.settings(), current_app.config["FENFA"]["apple_api_url"])


def refused_by_apple(error):
    return ApiError(502, f"Apple refused: {error}")


@bp.get("/apple/status")
def status():
    missing = missing_settings(current.settings())
    if missing:
        return ok({"configured": False, "connected": False,
                   "message": not_configured(missing)})
    try:
        client().check()
    except AppleError as exc:
        return ok({"configured": True, "connected": False, "message": str(exc)})
    return ok({"configured": True, "connected": True, "message": "connected to App Store Connect"})


@bp.get("/apple/devices")
def apple_devices():
    try:
        items = client().devices()
    except AppleError as exc:
        raise refused_by_apple(exc) from None
    return ok({"items": items, "total": len(items)})


@bp.post("/devices/<device_id>/register-apple")
def register_device(device_id):
    device = get_or_404(IOSDevice, device_id, "device")
    try:
        register_with_apple(device, client())
    except AppleError as exc:
        raise refused_by_apple(exc) from None
    return ok({**registration_result(device.id, device), "apple_registered": True})


@bp.post("/devices/register-apple")
def register_devices():
    body = validate.json_object()
    validate.known_fields(body, ("device_ids",))
    device_ids = body.get("device_ids")
    if device_ids is not None:
        if not isinstance(device_ids, list) or not all(isinstance(item, str) for item in device_ids):
            raise ApiError(400, "device_ids must be a list of device IDs")
        if len(device_ids) > MAX_BATCH:
            raise ApiError(400, f"device_ids must name at most {MAX_BATCH} devices")
        device_ids = list(dict.fromkeys(device_ids))
    return ok(register_many(device_ids, client()))
