"""The admin panel's record pages: events, iOS devices (and registering them with Apple), CSV exports,
settings and the audit log."""
from flask import Blueprint

from fenfa_lib import current
from fenfa_lib.events import EVENT_TYPES
from fenfa_lib.packages.filetypes import EXTENSIONS
from fenfa_lib.web.admin.audit import filtered_audit
from fenfa_lib.web.admin.panel import page_of
from fenfa_lib.web.admin.queries import filtered_devices, filtered_events
from fenfa_lib.web.admin.rendering import render_admin, require_admin_session
from fenfa_lib.web.admin.settings import SECRET_FIELDS, settings_dict

bp = Blueprint("admin_records", __name__, url_prefix="/admin")
require_admin_session(bp)


@bp.get("/events")
def events():
    rows, paging = page_of(filtered_events())
    return render_admin("admin/events.html", events=rows, paging=paging, event_types=EVENT_TYPES)


@bp.get("/devices")
def devices():
    rows, paging = page_of(filtered_devices())
    return render_admin("admin/devices.html", devices=rows, paging=paging)


@bp.get("/exports")
def exports():
    return render_admin("admin/exports.html", event_types=EVENT_TYPES, platforms=list(EXTENSIONS))


@bp.get("/settings")
def settings():
    saved = current.settings()
    secrets = {name: bool(getattr(saved, name)) for name in SECRET_FIELDS}
    return render_admin("admin/settings.html", settings=settings_dict(saved), secrets=secrets)


@bp.get("/audit")
def audit():
    rows, paging = page_of(filtered_audit())
    return render_admin("admin/audit.html", entries=rows, paging=paging)
