"""GET /admin/api/events, /admin/api/ios_devices and /admin/api/releases: the filtered lists admins page
through."""
from flask import Blueprint
from peewee import prefetch

from fenfa_lib.models import ProvisioningProfile
from fenfa_lib.web import validate
from fenfa_lib.web.admin.queries import filtered_devices, filtered_events, filtered_releases
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import device_dict, event_dict, release_dict

bp = Blueprint("admin_lists", __name__, url_prefix="/admin/api")
require_admin(bp)


@bp.get("/events")
def list_events():
    return ok(validate.paginate(filtered_events(), event_dict))


@bp.get("/ios_devices")
def list_devices():
    return ok(validate.paginate(filtered_devices(), device_dict))


@bp.get("/releases")
def list_releases():
    """A page of releases with their profiles: two queries (and the count) for any page size."""
    query = filtered_releases()
    limit, offset = validate.page_args()
    page = prefetch(query.limit(limit).offset(offset), ProvisioningProfile)
    return ok({"items": [release_dict(release, admin=True) for release in page], "total": query.count()})
