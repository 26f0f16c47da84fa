"""GET /admin/api/events and /admin/api/ios_devices: the filtered lists admins page through."""
from flask import Blueprint

from fenfa_lib.web import validate
from fenfa_lib.web.admin.queries import filtered_devices, filtered_events
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import device_dict, event_dict

bp = Blueprint("admin_lists", __name__, url_prefix="/admin/api")
require_admin(bp)


@bp.get("/events")
def list_events():
    return ok(validate.paginate(filtered_events(), event_dict))


@bp.get("/ios_devices")
def list_devices():
    return ok(validate.paginate(filtered_devices(), device_dict))
