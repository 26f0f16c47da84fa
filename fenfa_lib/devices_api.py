"""GET /admin/api/ios_devices: devices that completed UDID binding."""
from flask import Blueprint, request
from peewee import JOIN, fn

from fenfa_lib import validate
from fenfa_lib.api import ok
from fenfa_lib.auth import require_token
from fenfa_lib.models import DeviceBinding, IOSDevice, iso

bp = Blueprint("devices_api", __name__, url_prefix="/admin/api")


def filtered_devices():
    """Devices matching `variant_id`, `q` (UDID, name, model, serial), `from`/`to` (created), newest first,
    each with `variant_ids`: the comma-joined variants it is bound to."""
    variant_ids = fn.GROUP_CONCAT(DeviceBinding.variant).alias("variant_ids")
    query = IOSDevice.select(IOSDevice, variant_ids).join(DeviceBinding, JOIN.LEFT_OUTER).group_by(IOSDevice.id)
    variant_id = request.args.get("variant_id", "").strip()
    if variant_id:
        bound = DeviceBinding.select(DeviceBinding.device).where(DeviceBinding.variant == variant_id)
        query = query.where(IOSDevice.id.in_(bound))
    term = request.args.get("q", "").strip()
    if term:
        query = query.where(IOSDevice.udid.contains(term) | IOSDevice.device_name.contains(term)
                            | IOSDevice.model.contains(term) | IOSDevice.serial.contains(term))
    return validate.within_time_range(query, IOSDevice.created_at).order_by(IOSDevice.created_at.desc(), IOSDevice.id)


def device_dict(device):
    return {
        "id": device.id,
        "udid": device.udid,
        "device_name": device.device_name,
        "model": device.model,
        "os_version": device.os_version,
        "serial": device.serial,
        "created_at": iso(device.created_at),
        "last_seen_at": iso(device.last_seen_at),
        "apple_registered": device.apple_registered,
        "apple_device_id": device.apple_device_id,
        "variant_ids": sorted(device.variant_ids.split(",")) if device.variant_ids else [],
    }


@bp.get("/ios_devices")
@require_token("admin")
def list_devices():
    return ok(validate.paginate(filtered_devices(), device_dict))
