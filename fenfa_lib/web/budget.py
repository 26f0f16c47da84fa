"""The per-address budgets of rows that requests without a token may add, one budget for each kind (page
visits, page events, UDID profiles) so that one kind cannot use up another's: per-key rate limits in fixed
time windows, held in memory and shared by a process's threads."""
import math
import threading
import time
from collections import OrderedDict

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

# Rows a minute per address: enough for a team behind one NAT opening one link together (every tester
# visits and clicks a few times, a few register a device), not enough to flood the event table.
BUDGETS_PER_MINUTE = {"visits": 600, "events": 600, "profiles": 120}
BUDGETS = "fenfa.anonymous_budgets"


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


def init_budgets(app):
    """Budgets per app, so that apps in one process (tests, for one) never share counts."""
    app.extensions[BUDGETS] = {kind: RateLimiter(limit, window=60) for kind, limit in BUDGETS_PER_MINUTE.items()}


def anonymous_write_wait(kind):
    """Count one anonymous write of `kind` for this client: 0 when allowed, else the seconds until it may write
    again."""
    return current_app.extensions[BUDGETS][kind].hit(request.remote_addr or "")


def refuse_over_budget(kind, what):
    """429 with Retry-After when this client used up its writes of `kind` for the minute."""
    wait = anonymous_write_wait(kind)
    if wait:
        seconds = math.ceil(wait)
        raise TooManyRequests(f"too many {what} from this address; try again in {seconds} s", retry_after=seconds)
