"""GET /admin/api/ios_devices: devices that completed UDID binding."""
from flask import Blueprint

from fenfa_lib import validate
from fenfa_lib.admin_queries import filtered_devices
from fenfa_lib.api import ok
from fenfa_lib.auth import require_admin
from fenfa_lib.serialize import device_dict

bp = Blueprint("devices_api", __name__, url_prefix="/admin/api")
require_admin(bp)


@bp.get("/ios_devices")
def list_devices():
    return ok(validate.paginate(filtered_devices(), device_dict))
