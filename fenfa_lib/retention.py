"""What is deleted without an admin asking, and when. After each upload into a variant with `keep_releases`, the
variant keeps its pinned releases and its newest `keep_releases` unpinned ones, and the rest go as an API delete
does (files, rows, a release.deleted webhook). With `events_retention_days` set, events older than that go at
start-up and then daily, a batch per transaction, so requests wait for a batch at most; with several servers on one
database, one of them prunes each day (fenfa_lib.jobs)."""
import logging
import threading
from datetime import timedelta

from peewee import OperationalError

from fenfa_lib import catalog
from fenfa_lib.dialect import write_transaction
from fenfa_lib.jobs import run_if_due
from fenfa_lib.models import NEWEST_FIRST, Event, Product, Release, Settings, Variant, db, utcnow

log = logging.getLogger("fenfa")
EVENT_BATCH = 5000  # events deleted per transaction: about 20 ms of holding the write lock
PRUNE_EVENTS_EVERY = timedelta(days=1)
PRUNE_JOB = "prune-events"
CHECK_EVERY = timedelta(hours=1)  # how often a server asks whether the day's prune is due


def releases_past_keep(variant, uploaded_id):
    """The releases of `variant` its `keep_releases` lets go, never the one `uploaded_id` names: the unpinned
    ones past the newest `keep_releases` (pinned ones do not count), their variant and product loaded."""
    if variant.keep_releases is None:
        return []
    unpinned = (Release.select(Release, Variant, Product).join(Variant).join(Product)
                .where((Release.variant == variant.id) & ~Release.pinned)
                .order_by(*NEWEST_FIRST).offset(variant.keep_releases))
    return [release for release in unpinned if release.id != uploaded_id]


def prune_releases(variant_id, uploaded_id):
    """Apply the variant's retention after the upload of `uploaded_id` committed; the IDs deleted. A database
    too busy to delete now leaves them for the next upload: the upload itself has succeeded."""
    variant = Variant.get_or_none(Variant.id == variant_id)
    deleted = []
    try:
        for release in releases_past_keep(variant, uploaded_id) if variant else []:
            deleted.append(catalog.delete_release(release))
    except OperationalError as exc:
        log.warning("retention of variant %s stopped after %d deletes: %s", variant_id, len(deleted), exc)
    if deleted:
        log.info("retention: variant %s keeps %d unpinned releases; deleted %s", variant_id, variant.keep_releases,
                 ", ".join(deleted), extra={"fields": {"event": "retention", "variant_id": variant_id,
                                                        "deleted": deleted}})
    return deleted


def delete_event_batch(cutoff, batch):
    """Delete up to `batch` events older than `cutoff` in one transaction; how many went."""
    with write_transaction():
        oldest = Event.select(Event.id).where(Event.ts < cutoff).limit(batch)
        return Event.delete().where(Event.id.in_(oldest)).execute()


def prune_events(now=None, batch=EVENT_BATCH):
    """Delete the events older than the `events_retention_days` setting at `now` (tests move it), a batch per
    transaction so that other writers get the lock in between; how many went (0 when the setting is null)."""
    with db.connection_context():
        days = Settings.load().events_retention_days
        if days is None:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=days)
        total = 0
        while (deleted := delete_event_batch(cutoff, batch)) > 0:
            total += deleted
            if deleted < batch:
                break
    if total:
        log.info("retention: deleted %d events older than %d days", total, days,
                 extra={"fields": {"event": "retention", "events": total}})
    return total


def prune_events_periodically(stop, check_every=CHECK_EVERY):
    """Until `stop` (a threading.Event) is set, prune events now and every `check_every` when no server of the
    database pruned them within PRUNE_EVENTS_EVERY."""
    while True:
        try:
            run_if_due(PRUNE_JOB, PRUNE_EVENTS_EVERY, prune_events)
        except Exception:  # a failed round must not end the thread; the next one tries again
            log.exception("pruning old events failed")
        if stop.wait(check_every.total_seconds()):
            return


def start_event_pruning():
    """Run prune_events_periodically in a daemon thread; returns the Event that stops it."""
    stop = threading.Event()
    threading.Thread(target=prune_events_periodically, args=(stop,), daemon=True, name="fenfa-retention").start()
    return stop
