"""Recording analytics events with the client's address and browser."""
from flask import request

from fenfa_lib.models import Event

EVENT_TYPES = ("visit", "click", "download", "upload")


def record_event(event_type, product_id="", variant_id="", release_id="", extra=None):
    """Append one event; the client address honours FENFA_TRUSTED_PROXIES through ProxyFix."""
    return Event.create(
        type=event_type,
        product_id=product_id or "",
        variant_id=variant_id or "",
        release_id=release_id or "",
        ip=request.remote_addr or "",
        user_agent=(request.user_agent.string or "")[:512],
        extra=extra or {},
    )
