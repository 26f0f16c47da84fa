"""GET /admin/api/events: analytics events, filtered and newest first."""
from flask import Blueprint, request

from fenfa_lib import validate
from fenfa_lib.api import ApiError, ok
from fenfa_lib.auth import require_token
from fenfa_lib.events import EVENT_TYPES
from fenfa_lib.models import Event, iso

bp = Blueprint("events_api", __name__, url_prefix="/admin/api")
ID_FILTERS = {"product_id": Event.product_id, "variant_id": Event.variant_id, "release_id": Event.release_id}


def filtered_events():
    """Events matching the query string's type, ID and time filters, newest first."""
    query = Event.select()
    event_type = request.args.get("type", "").strip()
    if event_type:
        if event_type not in EVENT_TYPES:
            raise ApiError(400, f"type must be one of: {', '.join(EVENT_TYPES)}")
        query = query.where(Event.type == event_type)
    for name, column in ID_FILTERS.items():
        value = request.args.get(name, "").strip()
        if value:
            query = query.where(column == value)
    return validate.within_time_range(query, Event.ts).order_by(Event.ts.desc(), Event.id.desc())


def event_dict(event):
    return {
        "id": event.id,
        "ts": iso(event.ts),
        "type": event.type,
        "product_id": event.product_id,
        "variant_id": event.variant_id,
        "release_id": event.release_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "extra": event.extra,
    }


@bp.get("/events")
@require_token("admin")
def list_events():
    return ok(validate.paginate(filtered_events(), event_dict))
