"""GET /admin/api/events: analytics events, filtered and newest first."""
from datetime import date, datetime, time, timedelta

from flask import Blueprint, request

from fenfa_lib import validate
from fenfa_lib.api import ApiError, ok
from fenfa_lib.auth import require_token
from fenfa_lib.events import EVENT_TYPES
from fenfa_lib.models import Event, iso, naive_utc

bp = Blueprint("events_api", __name__, url_prefix="/admin/api")
ID_FILTERS = {"product_id": Event.product_id, "variant_id": Event.variant_id, "release_id": Event.release_id}


def query_moment(name):
    """(naive UTC datetime, whether it was a bare date) from the query string, or (None, False)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None, False
    try:
        return datetime.combine(date.fromisoformat(raw), time()), True
    except ValueError:
        pass
    try:
        return naive_utc(datetime.fromisoformat(raw)), False
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 date or datetime") from None


def filtered_events():
    """Events matching the query string's type, ID and time filters, newest first. A bare `to`
    date includes that whole day."""
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
    start, _ = query_moment("from")
    if start:
        query = query.where(Event.ts >= start)
    end, whole_day = query_moment("to")
    if end:
        query = query.where(Event.ts < end + timedelta(days=1) if whole_day else Event.ts <= end)
    return query.order_by(Event.ts.desc(), Event.id.desc())


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
