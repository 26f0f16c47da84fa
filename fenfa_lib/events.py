"""Recording analytics events with the client's address and browser, and the per-address budget of
rows that requests without a token may add (visits, clicks, UDID nonces)."""
import math

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

from fenfa_lib.models import Event
from fenfa_lib.ratelimit import RateLimiter

EVENT_TYPES = ("visit", "click", "download", "upload")
ANONYMOUS_WRITES_PER_MINUTE = 60
WRITE_LIMITER = "fenfa.anonymous_write_limiter"


def init_write_limiter(app):
    """One budget per app, so that apps in one process (tests, for one) never share counts."""
    app.extensions[WRITE_LIMITER] = RateLimiter(ANONYMOUS_WRITES_PER_MINUTE, window=60)


def anonymous_write_wait():
    """Count one anonymous write for this client: 0 when allowed, else the seconds until it may write again."""
    return current_app.extensions[WRITE_LIMITER].hit(request.remote_addr or "")


def refuse_over_budget(what):
    """429 with Retry-After when this client used up its anonymous writes for the minute."""
    wait = anonymous_write_wait()
    if wait:
        seconds = math.ceil(wait)
        raise TooManyRequests(f"too many {what} from this address; try again in {seconds} s", retry_after=seconds)


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
