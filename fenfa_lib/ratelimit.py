"""A per-key rate limit in fixed time windows, held in memory and shared by a process's threads."""
import threading
import time
from collections import OrderedDict


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

