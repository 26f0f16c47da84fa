"""GET /admin/api/events: analytics events, filtered and newest first."""
from flask import Blueprint

from fenfa_lib import validate
from fenfa_lib.admin_queries import filtered_events
from fenfa_lib.api import ok
from fenfa_lib.auth import require_admin
from fenfa_lib.serialize import event_dict

bp = Blueprint("events_api", __name__, url_prefix="/admin/api")
require_admin(bp)


@bp.get("/events")
def list_events():
    return ok(validate.paginate(filtered_events(), event_dict))
