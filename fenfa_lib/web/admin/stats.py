"""Per-variant statistics for admins."""
from datetime import timedelta

from peewee import fn, prefetch

from fenfa_lib.dialect import day_text
from fenfa_lib.models import NEWEST_FIRST, Event, ProvisioningProfile, utcnow
from fenfa_lib.web.shapes import product_dict, release_dict, variant_dict

DAYS = 30


def variant_stats(variant):
    """Summary, releases and totals. Visits count the variant's own visit events and visits of its
    product's page, which shows every variant; clicks and downloads are the variant's own."""
    releases = list(prefetch(variant.releases.order_by(*NEWEST_FIRST), ProvisioningProfile))
    counts = dict(
        Event.select(Event.type, fn.COUNT(Event.id)).where(Event.variant_id == variant.id).group_by(Event.type).tuples()
    )
    # Two counts on two indexes, not one OR that walks every event of the product.
    page_visits = Event.select().where((Event.product_id == variant.product_id) & (Event.type == "visit")
                                       & (Event.variant_id == "")).count()
    return {
        "product": product_dict(variant.product),
        "variant": variant_dict(variant),
        "releases": [release_dict(release, admin=True) for release in releases],
        "totals": {
            "downloads": sum(release.download_count for release in releases),
            "visits": counts.get("visit", 0) + page_visits,
            "clicks": counts.get("click", 0),
            "releases": len(releases),
        },
        "downloads_per_day": downloads_per_day(variant.id),
    }


def downloads_per_day(variant_id):
    """[{date, downloads}] for each of the last 30 days (UTC), oldest first, zeros included."""
    first_day = utcnow().date() - timedelta(days=DAYS - 1)
    day = day_text(Event.ts)
    counts = dict(
        Event.select(day, fn.COUNT(Event.id))
        .where((Event.variant_id == variant_id) & (Event.type == "download") & (Event.ts >= first_day))
        .group_by(day)
        .tuples()
    )
    days = [(first_day + timedelta(days=offset)).isoformat() for offset in range(DAYS)]
    return [{"date": date, "downloads": counts.get(date, 0)} for date in days]
