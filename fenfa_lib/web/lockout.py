"""Locking out an address that keeps guessing tokens: ten failed sign-ins or token checks in a minute
and sign-in and token checks refuse it for a minute."""
import threading
import time

FAILURES = 10
WINDOW_SECONDS = 60
LOCK_SECONDS = 60
MAX_ADDRESSES = 10_000


class Lockout:
    def __init__(self, failures=FAILURES, window=WINDOW_SECONDS, lock=LOCK_SECONDS, clock=time.monotonic):
        self.failures = failures
        self.window = window
        self.lock_seconds = lock
        self.clock = clock
        self._failed = {}  # address -> failure times within the window
        self._locked = {}  # address -> locked until
        self._lock = threading.Lock()

    def wait(self, address):
        """Seconds until `address` may try again; 0 when it is not locked out."""
        with self._lock:
            until = self._locked.get(address, 0) - self.clock()
            if until <= 0:
                self._locked.pop(address, None)
                return 0
            return until

    def fail(self, address):
        """Count a failed attempt; the one that reaches the limit locks the address out."""
        now = self.clock()
        with self._lock:
            recent = [moment for moment in self._failed.get(address, []) if moment > now - self.window]
            recent.append(now)
            if len(recent) >= self.failures:
                self._locked[address] = now + self.lock_seconds
                self._failed.pop(address, None)
            else:
                self._failed[address] = recent
            if len(self._failed) > MAX_ADDRESSES:
                self._failed.pop(next(iter(self._failed)))
