"""The per-address budget of rows that requests without a token may add (visits, click events, UDID
nonces): a per-key rate limit in fixed time windows, held in memory and shared by a process's threads."""
import math
import threading
import time
from collections import OrderedDict

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

ANONYMOUS_WRITES_PER_MINUTE = 60
WRITE_LIMITER = "fenfa.anonymous_write_limiter"


class RateLimiter:
    """At most `limit` hits per key in each `window` seconds, remembering at most `max_keys` keys."""

    def __init__(self, limit, window=60.0, max_keys=10_000, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._windows = OrderedDict()  # key -> (window start, hits), oldest window first
        self._lock = threading.Lock()

    def hit(self, key):
        """Count one hit for `key`: 0 when it is allowed, else the seconds until the key may hit again."""
        now = self.clock()
        with self._lock:
            self._forget_expired(now)
            start, hits = self._windows.get(key, (now, 0))
            if hits >= self.limit:
                return start + self.window - now
            # Assigning to a key already present keeps its place, so the order stays that of window starts.
            self._windows[key] = (start, hits + 1)
            if len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
            return 0

    def _forget_expired(self, now):
        while self._windows:
            start, _ = next(iter(self._windows.values()))
            if start + self.window > now:
                return
            self._windows.popitem(last=False)


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
