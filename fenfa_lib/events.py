"""Analytics events: the append-only rows that record visits, clicks, downloads and uploads."""
from typing import NamedTuple

from fenfa_lib.models import Event, Release, db

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


def count_download(release, client):
    """Add one to the release's download count and record the download event, together or not at all."""
    with db.atomic():
        Release.update(download_count=Release.download_count + 1).where(Release.id == release.id).execute()
        record_event("download", client, release.variant.product_id, release.variant_id, release.id)

