"""Per-address limits, kept in the database so that every server on it counts the same hits: budgets (at most so
many hits of a kind per address in a minute) and lockouts (an address that fails ten times within a minute is
refused for a minute). An address's window begins with its first hit and ends a window later; rows whose window
and lock are over are deleted as time goes on."""
import time

from peewee import Case

from fenfa_lib.models import AddressCount, db

WINDOW_SECONDS = 60
FAILURES = 10
LOCK_SECONDS = 60
MAX_REMEMBERED = 10_000  # addresses a process remembers as over their budget


class AddressCounter:
    """Counts of one `kind` per address in windows of `window` seconds."""

    def __init__(self, kind, window, clock):
        self.kind, self.window, self.clock = kind, window, clock
        self._pruned_at = float("-inf")

    def _row(self, address):
        return (AddressCount.kind == self.kind) & (AddressCount.address == address)

    def count(self, address, now):
        """Add one to the address's count (in a new window when its last one is over); (count, window start)."""
        self._prune(now)
        window_over = AddressCount.window_start <= now - self.window
        with db.atomic():
            (AddressCount.insert(kind=self.kind, address=address, count=1, window_start=now)
             .on_conflict(conflict_target=[AddressCount.kind, AddressCount.address], update={
                 AddressCount.count: Case(None, [(window_over, 1)], AddressCount.count + 1),
                 AddressCount.window_start: Case(None, [(window_over, now)], AddressCount.window_start)})
             .execute())
            return (AddressCount.select(AddressCount.count, AddressCount.window_start)
                    .where(self._row(address)).tuples().get())

    def _prune(self, now):
        """Delete this kind's rows whose window and lock are both over, at most once a window per process."""
        if now - self._pruned_at >= self.window:
            self._pruned_at = now
            (AddressCount.delete()
             .where((AddressCount.kind == self.kind) & (AddressCount.window_start <= now - self.window)
                    & (AddressCount.locked_until <= now))
             .execute())


class Budget(AddressCounter):
    """At most `limit` hits of `kind` per address in each `window` seconds. An address found over its limit is
    remembered in the process until its window ends, since no hit can bring it back under: its further hits are
    refused without a database write (a page a crowd keeps reloading would otherwise write once per request)."""

    def __init__(self, kind, limit, window=WINDOW_SECONDS, clock=time.time):
        super().__init__(kind, window, clock)
        self.limit = limit
        self._spent = {}  # address -> when its window ends, for the addresses known to be over the limit

    def hit(self, address):
        """Count one hit for `address`: 0 when it is allowed, else the seconds until the address may hit again."""
        now = self.clock()
        until = self._spent.get(address, 0)
        if until > now:
            return until - now
        hits, window_start = self.count(address, now)
        if hits <= self.limit:
            return 0
        self._remember_spent(address, window_start + self.window, now)
        return window_start + self.window - now

    def _remember_spent(self, address, until, now):
        if len(self._spent) >= MAX_REMEMBERED:
            self._spent = {key: end for key, end in self._spent.items() if end > now}
        if len(self._spent) < MAX_REMEMBERED:
            self._spent[address] = until


class Lockout(AddressCounter):
    """`failures` failures of `kind` from an address within `window` seconds lock it out for `lock` seconds."""

    def __init__(self, kind, failures=FAILURES, window=WINDOW_SECONDS, lock=LOCK_SECONDS, clock=time.time):
        super().__init__(kind, window, clock)
        self.failures, self.lock = failures, lock

    def wait(self, address):
        """Seconds until `address` may try again; 0 when it is not locked out."""
        until = AddressCount.select(AddressCount.locked_until).where(self._row(address)).scalar()
        return max(0, (until or 0) - self.clock())

    def fail(self, address):
        """Count a failed attempt; the one that reaches the limit locks the address out and starts a new count."""
        now = self.clock()
        with db.atomic():
            failures, _ = self.count(address, now)
            if failures >= self.failures:
                (AddressCount.update(count=0, window_start=now, locked_until=now + self.lock)
                 .where(self._row(address)).execute())
