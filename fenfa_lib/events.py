"""Analytics events: the append-only rows that record visits, clicks, downloads and uploads."""
import logging
from contextlib import contextmanager
from typing import NamedTuple

from peewee import OperationalError

from fenfa_lib.dialect import database_fault
from fenfa_lib.models import Event, Release, db

log = logging.getLogger("fenfa")
EVENT_TYPES = ("visit", "click", "download", "upload")
MAX_USER_AGENT_LENGTH = 512


class Client(NamedTuple):
    """Who sent a request, as an event records it: the address (ProxyFix honours trusted proxies) and browser."""

    ip: str
    user_agent: str


def record_event(event_type, client, product_id="", variant_id="", release_id="", extra=None):
    """Append one event."""
    return Event.create(
        type=event_type,
        product_id=product_id or "",
        variant_id=variant_id or "",
        release_id=release_id or "",
        ip=client.ip,
        user_agent=client.user_agent[:MAX_USER_AGENT_LENGTH],
        extra=extra or {},
    )


def is_busy(error):
    """Whether a database error means another writer held the lock for the whole busy timeout."""
    return database_fault(error) == "busy"


@contextmanager
def unless_busy(what):
    """Run a write that must not hold up the answer it describes (a page visit, a download count) in a
    transaction; when another writer holds the database past the busy timeout, it is left out and logged."""
    try:
        with db.atomic():
            yield
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        log.warning("%s left out: the database is busy (%s)", what, exc)


def count_download(release, client):
    """Add one to the release's download count and record the download event, together or not at all. A
    database another writer holds too long costs the count (logged), never the tester's download."""
    with unless_busy(f"download of {release.id}"):
        Release.update(download_count=Release.download_count + 1).where(Release.id == release.id).execute()
        record_event("download", client, release.variant.product_id, release.variant_id, release.id)
