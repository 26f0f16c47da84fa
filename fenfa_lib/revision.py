"""Caches of what pages are built from, kept correct by the catalog revision: a counter the database bumps on
every write to products, variants, releases (not their download counts), provisioning profiles and settings
(see `schema.migrate_to_4`). A cache filled at one revision is emptied when a request sees another, so a
write through any path, in this process or another one on the same database, is seen by the next request."""
import threading
from collections import OrderedDict

from fenfa_lib.models import db, utcnow


def catalog_revision():
    return db.execute_sql('SELECT "value" FROM "catalogrevision"').fetchone()[0]


class RevisionCache:
    """At most `max_entries` values of one revision, least recently used dropped first. A value may also
    carry when it stops being true without any write (a provisioning profile expiring turns a verdict)."""

    def __init__(self, max_entries):
        self.max_entries = max_entries
        self._entries = OrderedDict()
        self._revision = None
        self._lock = threading.Lock()

    def get(self, key, revision):
        """The value stored under `key` at `revision`, or None."""
        with self._lock:
            if revision != self._revision:
                self._entries.clear()
                self._revision = revision
                return None
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires_at = entry
            if expires_at is not None and expires_at <= utcnow():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key, revision, value, expires_at=None):
        """Keep `value`, computed from rows read after `revision` was, unless another revision was seen since:
        a value that may predate a write is never stored."""
        with self._lock:
            if revision != self._revision:
                return
            self._entries[key] = (value, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, key, revision, compute):
        """The cached value, or `compute()`'s (value, expires_at) stored and returned."""
        value = self.get(key, revision)
        if value is None:
            value, expires_at = compute()
            self.put(key, revision, value, expires_at)
        return value
